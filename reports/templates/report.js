/* sgaudit report: filter, sort and expand the groups table.
   Reads only data-* attributes and textContent; never writes HTML. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  ready(function () {
    var table = document.getElementById("groups-table");
    var form = document.getElementById("filters");
    if (!table || !form) { return; }
    var bodies = Array.prototype.slice.call(table.tBodies).filter(function (b) { return b.classList.contains("g"); });
    var noMatch = document.getElementById("no-match");
    var shown = document.getElementById("shown");
    var sevBoxes = Array.prototype.slice.call(form.querySelectorAll("input[name=sev]"));
    var cards = Array.prototype.slice.call(document.querySelectorAll("button.card[data-sev]"));
    var texts = new WeakMap();
    var combos = new WeakMap();
    var timer = 0;

    function textOf(body) {
      var t = texts.get(body);
      if (t === undefined) { t = body.textContent.toLowerCase(); texts.set(body, t); }
      return t;
    }

    function combosOf(body) {
      var c = combos.get(body);
      if (c === undefined) {
        c = (body.getAttribute("data-sk") || "").split(" ").filter(Boolean).map(function (x) { return x.split(":"); });
        combos.set(body, c);
      }
      return c;
    }

    function apply() {
      var sevs = sevBoxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
      var kind = form.elements.kind.value;
      var loc = form.elements.loc.value;
      var status = form.elements.status.value;
      var terms = form.elements.q.value.toLowerCase().split(/\s+/).filter(Boolean);
      var n = 0;
      cards.forEach(function (c) { c.setAttribute("aria-pressed", String(sevs.indexOf(c.getAttribute("data-sev")) >= 0)); });
      bodies.forEach(function (body) {
        var ok = (!loc || body.getAttribute("data-loc") === loc) && (!status || body.getAttribute("data-status") === status);
        if (ok && (sevs.length || kind)) {
          ok = combosOf(body).some(function (sk) {
            return (!sevs.length || sevs.indexOf(sk[0]) >= 0) && (!kind || sk[1] === kind);
          });
        }
        if (ok && terms.length) {
          var text = textOf(body);
          ok = terms.every(function (term) { return text.indexOf(term) >= 0; });
        }
        if (body.hidden === ok) { body.hidden = !ok; }
        if (ok) { n += 1; }
      });
      noMatch.hidden = n > 0;
      shown.textContent = (n === bodies.length ? "" : "Showing " + n + " of ") + bodies.length + " group" + (bodies.length === 1 ? "" : "s");
    }

    form.addEventListener("change", apply);
    form.addEventListener("input", function (e) {
      if (e.target.name !== "q") { return; }
      clearTimeout(timer);
      timer = setTimeout(apply, bodies.length > 500 ? 150 : 0);
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    form.addEventListener("reset", function () { setTimeout(apply, 0); });
    cards.forEach(function (card) {
      card.addEventListener("click", function () {
        var box = sevBoxes.filter(function (b) { return b.value === card.getAttribute("data-sev"); })[0];
        if (box) { box.checked = !box.checked; apply(); }
      });
    });

    var RANK = { unresolved: 0, drift: 1, accepted: 2, ok: 3, critical: 0, high: 1, medium: 2, low: 3 };

    // Groups with the same desired state share one table (section "Desired states"); a group
    // gets a copy when it is opened, with its missing rules marked.
    function fillDesired(body) {
      var ref = body.querySelector("div.dsref");
      if (!ref || ref.getAttribute("data-filled")) { return; }
      var source = document.getElementById("ds" + ref.getAttribute("data-ds"));
      var table = source ? source.querySelector("table") : null;
      if (!table) { return; }
      var heading = document.createElement("h3");
      heading.className = "dsh";
      heading.textContent = "Desired rules ";
      var note = document.createElement("span");
      note.textContent = "(desired state " + (Number(ref.getAttribute("data-ds")) + 1) + ": what the options give, and why)";
      heading.appendChild(note);
      ref.appendChild(heading);
      var copy = table.cloneNode(true);
      var missing = (ref.getAttribute("data-missing") || "").split(" ").filter(Boolean);
      Array.prototype.forEach.call(copy.querySelectorAll("tr[data-k]"), function (tr) {
        if (missing.indexOf(tr.getAttribute("data-k")) < 0) { return; }
        tr.classList.add("missing");
        var flag = document.createElement("span");
        flag.className = "flag";
        flag.textContent = "missing";
        tr.cells[0].appendChild(flag);
      });
      ref.appendChild(copy);
      ref.setAttribute("data-filled", "1");
    }

    function setOpen(body, open) {
      if (open) { fillDesired(body); }
      body.classList.toggle("open", open);
      var button = body.querySelector("button.tg");
      if (button) { button.setAttribute("aria-expanded", String(open)); }
    }

    bodies.forEach(function (b) { if (b.classList.contains("open")) { fillDesired(b); } });
    window.addEventListener("beforeprint", function () {
      bodies.forEach(function (b) { if (!b.hidden && b.getAttribute("data-status") !== "ok") { fillDesired(b); } });
    });

    table.addEventListener("click", function (e) {
      var target = e.target;
      var row = target.closest ? target.closest("tr.row") : null;
      if (!row || !row.parentNode.classList.contains("g")) { return; }
      if (!target.closest("button.tg") && window.getSelection && String(window.getSelection())) { return; }
      var body = row.parentNode;
      setOpen(body, !body.classList.contains("open"));
    });
    document.getElementById("expand-all").addEventListener("click", function () {
      bodies.forEach(function (b) { if (!b.hidden) { setOpen(b, true); } });
    });
    document.getElementById("collapse-all").addEventListener("click", function () {
      bodies.forEach(function (b) { setOpen(b, false); });
    });

    function sortKey(cell, kind) {
      var text = cell.textContent.trim().toLowerCase();
      if (kind === "status" || kind === "severity") {
        var word = text.split(/\s+/)[0];
        return Object.prototype.hasOwnProperty.call(RANK, word) ? RANK[word] : 9;
      }
      if (kind === "num") { return parseInt(text, 10) || 0; }
      return text;
    }

    var heads = Array.prototype.slice.call(table.tHead.querySelectorAll("th[data-sort]"));
    heads.forEach(function (th) {
      th.querySelector("button").addEventListener("click", function () {
        var col = Number(th.getAttribute("data-col"));
        var kind = th.getAttribute("data-sort");
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        var keyed = bodies.map(function (body, i) {
          return { body: body, key: sortKey(body.rows[0].cells[col], kind), i: i };
        });
        keyed.sort(function (a, b) {
          if (a.key < b.key) { return -dir; }
          if (a.key > b.key) { return dir; }
          return a.i - b.i;
        });
        var frag = document.createDocumentFragment();
        keyed.forEach(function (k) { frag.appendChild(k.body); });
        table.insertBefore(frag, noMatch);
        bodies = keyed.map(function (k) { return k.body; });
      });
    });

    apply();
  });
})();
