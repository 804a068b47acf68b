// waypoint ui: the one behaviour htmx does not cover, copying a config to the clipboard.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  var text = document.getElementById(button.dataset.copy).textContent;
  navigator.clipboard.writeText(text).then(function () { button.textContent = "copied"; });
});
