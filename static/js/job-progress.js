// Follows a background document job: polls its JSON status and moves the progress bar until
// the ZIP file is ready (without JavaScript the page refreshes itself instead).
"use strict";
(function () {
  const box = document.getElementById("job");
  if (!box) return;
  const bar = document.getElementById("job-progress");
  const state = document.getElementById("job-state");
  const download = document.getElementById("job-download");

  async function poll() {
    let body;
    try {
      const response = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      body = await response.json();
    } catch (e) {
      setTimeout(poll, 3000);
      return;
    }
    bar.max = Math.max(body.total, 1);
    bar.value = body.status === "done" ? bar.max : body.done;
    bar.textContent = body.percent + "%";
    if (body.status === "done") {
      state.textContent = box.dataset.doneLabel;
      download.hidden = false;
    } else if (body.status === "failed") {
      state.textContent = box.dataset.failedLabel + " " + (body.error || "");
    } else {
      state.textContent = box.dataset.progressLabel.replace("{done}", body.done).replace("{total}", body.total);
      setTimeout(poll, 1000);
    }
  }
  if (!download.hidden) return;
  setTimeout(poll, 500);
})();
