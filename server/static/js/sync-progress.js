// SPDX-License-Identifier: GPL-2.0-or-later
// The live progress bar of a terminal's sync (issue #6). The page says where to ask
// (data-progress-url), which run to wait for (data-after) and its texts in the page's
// language (data-label-*); this polls once a second until the run has finished.
(function () {
  "use strict";
  var box = document.getElementById("sync");
  if (!box || box.dataset.watch !== "yes") { return; }
  var bar = document.getElementById("sync-bar");
  var status = document.getElementById("sync-status");
  var url = box.dataset.progressUrl;
  if (box.dataset.after !== "") { url += "?after=" + encodeURIComponent(box.dataset.after); }
  var failures = 0;

  function label(name, values) {
    var text = box.dataset["label" + name.charAt(0).toUpperCase() + name.slice(1)] || "";
    return text.replace(/\{(\w+)\}/g, function (_m, key) {
      return values[key] === undefined || values[key] === null ? "" : String(values[key]);
    });
  }

  function show(p) {
    bar.value = p.percent;
    bar.textContent = p.percent + "%";
    bar.dataset.state = p.state;
    status.dataset.state = p.state;
    var text;
    if (p.state === "running") {
      text = label(p.phase || "connect", { done: p.done, total: p.total });
    } else if (p.state === "ok") {
      text = label("ok", { read: p.records_read, "new": p.punches_new });
    } else if (p.state === "failed") {
      text = label("failed", { error: p.error });
    } else {
      text = label(p.state, {});
    }
    status.textContent = text;
  }

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (p) {
        failures = 0;
        show(p);
        if (!p.finished) { window.setTimeout(poll, 1000); }
      })
      .catch(function () {
        failures += 1;
        if (failures < 30) { window.setTimeout(poll, 2000); }
      });
  }

  poll();
})();
