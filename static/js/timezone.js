// `<select data-local-offset>` of UTC offsets (`+05:30`) beside the `datetime-local` input
// named by its `data-local-offset-for`: when a page loads, the offset is set to the browser's
// own at that date and time (or now, when the time is empty), and the time is rewritten to
// the same instant in it, so nothing moves: the admin reads and types local time. No event is
// sent: the server's render (its notice, its "That is … UTC") stays right, since the instant is
// the same, and the next change the admin makes sends both fields with the rest. Runs once per
// page, before the admin can touch the select.

function pad(n) {
  return (n < 10 ? "0" : "") + n;
}

function formatOffset(minutes) {
  var sign = minutes < 0 ? "-" : "+";
  var abs = Math.abs(minutes);
  return sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
}

function parseOffset(text) {
  var m = /^([+-])(\d{2}):(\d{2})$/.exec(text || "");
  if (!m) return null;
  var minutes = parseInt(m[2], 10) * 60 + parseInt(m[3], 10);
  return m[1] === "-" ? -minutes : minutes;
}

// "2026-12-24T17:00" at `offset` minutes east of UTC, as Unix ms.
function instantOf(local, offset) {
  var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local || "");
  if (!m) return null;
  var utc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  return utc - offset * 60000;
}

function localText(date) {
  return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
    "T" + pad(date.getHours()) + ":" + pad(date.getMinutes());
}

export function presetOffsets(root) {
  var selects = (root || document).querySelectorAll("select[data-local-offset]");
  Array.prototype.forEach.call(selects, function (select) {
    if (select.getAttribute("data-local-offset") === "set") return;
    select.setAttribute("data-local-offset", "set");
    var input = select.form && select.form.elements[select.getAttribute("data-local-offset-for")];
    var current = parseOffset(select.value);
    if (current === null) return;
    var at = input && input.value ? instantOf(input.value, current) : null;
    var date = new Date(at === null ? Date.now() : at);
    var mine = -date.getTimezoneOffset();
    if (mine === current) return;
    var text = formatOffset(mine);
    if (!Array.prototype.some.call(select.options, function (o) { return o.value === text; })) return;
    select.value = text;
    if (input && at !== null) input.value = localText(date);
  });
}
