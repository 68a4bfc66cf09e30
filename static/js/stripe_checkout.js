// Stripe's card field on the checkout page (only when the store takes payments through
// Stripe): Stripe.js mounts its Elements card field and, on submit, turns the card into a
// payment method in the browser (the card's number never reaches the store); the form then
// sends that method's id as `payment_method` and the store charges it.
var box = document.getElementById("stripe-payment");
var form = document.getElementById("checkout-form");

function say(text) {
  var p = document.getElementById("error-payment_method");
  if (!p) {
    p = document.createElement("p");
    p.id = "error-payment_method";
    p.className = "field__error";
    p.setAttribute("role", "alert");
    box.appendChild(p);
  }
  p.textContent = text;
}

if (box && form && window.Stripe) {
  var stripe = window.Stripe(box.getAttribute("data-stripe-key"));
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var field = form.querySelector("input[name=payment_method]");
  var sending = false;
  form.addEventListener("submit", function (event) {
    if (field.value) return;   // the method is made: the form goes
    event.preventDefault();
    if (sending) return;
    sending = true;
    stripe.createPaymentMethod({ type: "card", card: card }).then(function (result) {
      sending = false;
      if (result.error) { say(result.error.message || "Check your card's details."); return; }
      field.value = result.paymentMethod.id;
      form.submit();
    });
  });
}
