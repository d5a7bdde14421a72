// Copy buttons beside a virtual account's number and amount. Without scripts they stay hidden,
// and the text itself can be selected and copied.
"use strict";
(function () {
  if (!navigator.clipboard) return;
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    const label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        button.textContent = "\u2713 " + label;
      } catch (e) {
        button.textContent = label;
      }
    });
  }
})();
