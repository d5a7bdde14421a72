// The campaign page's "Copy link" button (templates/campaigns/_share.html): shown only where the
// browser can write to the clipboard; without this script the address stays selectable in its field.
"use strict";
(function () {
  for (const box of document.querySelectorAll("[data-share-url]")) {
    const button = box.querySelector(".copy-link");
    const status = box.querySelector(".copy-status");
    if (!button || !status || !navigator.clipboard || !window.isSecureContext) continue;
    button.hidden = false;
    button.addEventListener("click", async function () {
      try {
        await navigator.clipboard.writeText(box.dataset.shareUrl);
        status.textContent = button.dataset.copied;
      } catch (error) {
        status.textContent = button.dataset.failed;
        const field = box.querySelector(".share-url");
        if (field) field.select();
      }
    });
  }
})();
