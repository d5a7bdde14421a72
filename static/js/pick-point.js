// The service point form: clicking the map fills in the latitude and longitude (the inverse of the
// server's projection, given in data-projection). The typed fields stay the source of truth.
(function () {
  "use strict";
  var box = document.querySelector(".pick-map");
  var svg = box && box.querySelector("svg");
  var lat = document.getElementById("latitude");
  var lon = document.getElementById("longitude");
  if (!svg || !lat || !lon || !svg.createSVGPoint) {
    return;
  }
  var p = JSON.parse(svg.getAttribute("data-projection"));
  var marker = svg.querySelector(".picked");
  function place(x, y) {
    marker.setAttribute("cx", x);
    marker.setAttribute("cy", y);
  }
  function showTyped() {
    var la = parseFloat(lat.value.replace(",", "."));
    var lo = parseFloat(lon.value.replace(",", "."));
    if (!isNaN(la) && !isNaN(lo)) {
      place((lo - p.west) * p.cos_lat0 * p.scale, (p.north - la) * p.scale);
    }
  }
  box.hidden = false;
  showTyped();
  lat.addEventListener("change", showTyped);
  lon.addEventListener("change", showTyped);
  svg.addEventListener("click", function (event) {
    var point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    var at = point.matrixTransform(svg.getScreenCTM().inverse());
    lat.value = (p.north - at.y / p.scale).toFixed(5);
    lon.value = (p.west + at.x / (p.cos_lat0 * p.scale)).toFixed(5);
    place(at.x, at.y);
  });
})();
