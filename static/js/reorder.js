// Drag-and-drop reordering of a server-rendered list: `<ol data-reorder="<url>">` whose items
// `<li draggable="true" data-image-id="<id>">` move as one is dragged over the others. When
// the drag ends in a new order it is posted as `order=<id>,<id>,…` to the list's URL, and the
// list's section (the element with the nearest id around the list) is re-read from the page
// the server renders, so labels and buttons follow. A refused order reloads the page. Every
// item also has plain buttons (forms) that move it without JavaScript or a pointer.

var ITEM = "[data-reorder] > [data-image-id]";

function itemOf(target) {
  return target && target.closest ? target.closest(ITEM) : null;
}

function orderOf(list) {
  return Array.prototype.map.call(list.children, function (li) {
    return li.getAttribute("data-image-id");
  }).join(",");
}

// Absolute and without the page's user:password@ (fetch refuses URLs that carry credentials;
// the browser still sends the ones it has for this site).
function here(path) {
  return window.location.origin + path;
}

function refresh(list) {
  var section = list.parentNode && list.parentNode.closest("[id]");
  if (!section) { window.location.reload(); return; }
  fetch(here(window.location.pathname), { credentials: "same-origin" })
    .then(function (response) { return response.text(); })
    .then(function (text) {
      var fresh = new DOMParser().parseFromString(text, "text/html").getElementById(section.id);
      if (fresh) section.replaceWith(document.importNode(fresh, true));
      else window.location.reload();
    })
    .catch(function () { window.location.reload(); });
}

function send(list, order) {
  fetch(here(list.getAttribute("data-reorder")), {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "order=" + encodeURIComponent(order)
  }).then(function (response) {
    if (response.ok) refresh(list);
    else window.location.reload();
  }).catch(function () { window.location.reload(); });
}

export function setupReorder() {
  var dragged = null;
  var before = "";
  document.addEventListener("dragstart", function (ev) {
    var item = itemOf(ev.target);
    if (!item) return;
    dragged = item;
    before = orderOf(item.parentNode);
    if (ev.dataTransfer) {
      ev.dataTransfer.effectAllowed = "move";
      ev.dataTransfer.setData("text/plain", item.getAttribute("data-image-id"));
    }
    item.classList.add("is-dragging");
  });
  document.addEventListener("dragover", function (ev) {
    if (!dragged) return;
    var over = itemOf(ev.target);
    if (!over || over.parentNode !== dragged.parentNode) return;
    ev.preventDefault();
    if (over === dragged) return;
    var items = Array.prototype.slice.call(over.parentNode.children);
    if (items.indexOf(dragged) < items.indexOf(over)) over.after(dragged);
    else over.before(dragged);
  });
  document.addEventListener("drop", function (ev) {
    if (dragged) ev.preventDefault();
  });
  document.addEventListener("dragend", function () {
    if (!dragged) return;
    var item = dragged;
    dragged = null;
    item.classList.remove("is-dragging");
    var list = item.parentNode;
    var order = orderOf(list);
    if (order !== before) send(list, order);
  });
}
