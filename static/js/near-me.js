// "Use my position" on /map/nearest: the browser shares its position (if the visitor agrees) and
// the page is asked again with lat and lon; the server computes the distances. Without this file
// the town field works alone.
(function () {
  "use strict";
  var button = document.getElementById("use-position");
  var form = document.getElementById("near-form");
  var status = document.getElementById("position-status");
  if (!button || !form || !("geolocation" in navigator)) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(function (position) {
      var params = new URLSearchParams();
      params.set("lat", position.coords.latitude.toFixed(5));
      params.set("lon", position.coords.longitude.toFixed(5));
      var category = form.querySelector("select[name=category]");
      if (category && category.value) {
        params.set("category", category.value);
      }
      window.location.assign(form.getAttribute("action") + "?" + params.toString());
    }, function () {
      button.disabled = false;
      status.textContent = button.getAttribute("data-error");
    }, {maximumAge: 600000, timeout: 15000});
  });
})();
