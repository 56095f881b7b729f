/* sgaudit report: list, filter, sort and expand the groups table, and build a group's details
   when it is opened or printed. Reads only data-* attributes and text (textContent); never
   writes HTML: every element it makes gets its text through textContent.
   The data-d format is described in sgaudit/report/html.py. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var SEV = { c: "critical", h: "high", m: "medium", l: "low" };
  var KIND = { e: "extra", m: "missing" };
  var RANK = { unresolved: 0, drift: 1, accepted: 2, ok: 3, critical: 0, high: 1, medium: 2, low: 3 };
  var COL = { status: 0, id: 2, name: 3, account: 4, region: 5 };

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  function make(tag, text, cls) {
    var e = document.createElement(tag);
    if (text) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }

  function row(cells, cls) {
    var tr = make("tr", "", cls);
    cells.forEach(function (c) {
      var td = document.createElement("td");
      if (typeof c === "string") { td.textContent = c; } else { c.forEach(function (n) { if (n) { td.appendChild(n); } }); }
      tr.appendChild(td);
    });
    return tr;
  }

  function headed(cls, caption, heads) {
    var t = make("table", "", cls);
    t.appendChild(make("caption", caption));
    var tr = document.createElement("tr");
    heads.forEach(function (h) { var th = make("th", h); th.scope = "col"; tr.appendChild(th); });
    t.createTHead().appendChild(tr);
    t.appendChild(document.createElement("tbody"));
    return t;
  }

  function badge(code, extra) {
    var sev = SEV[code.charAt(0)] || "";
    return make("b", sev, "sv " + sev + (extra ? " " + extra : ""));
  }

  ready(function () {
    var table = document.getElementById("groups-table");
    var form = document.getElementById("filters");
    if (!table || !form) { return; }
    var template = document.getElementById("strings");
    var strings = template ? template.content.textContent.split("\n") : [];
    var page = Number(table.getAttribute("data-page")) || 200;
    var since = table.hasAttribute("data-since");
    var ncols = table.tHead.rows[0].cells.length;
    var limit = page;
    var printing = false;
    var groups = Array.prototype.map.call(table.tBodies, function (body, i) { return { body: body, i: i }; });
    var byBody = new WeakMap();
    groups.forEach(function (g) { byBody.set(g.body, g); });
    var noMatch = document.getElementById("no-match");
    var more = document.getElementById("more");
    var listed = document.getElementById("listed");
    var shown = document.getElementById("shown");
    var sevBoxes = Array.prototype.slice.call(form.querySelectorAll("input[name=sev]"));
    var cards = Array.prototype.slice.call(document.querySelectorAll("button.card[data-sev]"));
    var timer = 0;

    function cell(g, col) { return g.body.rows[0].cells[col].textContent; }

    // The group's records: [{t: type letter, f: fields}], parsed once.
    function records(g) {
      if (!g.recs) {
        g.recs = (g.body.getAttribute("data-d") || "").split("\n").filter(Boolean).map(function (line) {
          return { t: line.charAt(0), f: line.slice(1).split("\t") };
        });
      }
      return g.recs;
    }

    function text(g, field) {
      if (!field) { return ""; }
      if (field === "=") { return cell(g, COL.id); }
      if (field.charAt(0) === "~") {
        var s = strings[parseInt(field.slice(1), 36)];
        return s === undefined ? "" : s;
      }
      return field;
    }

    function texts(g, rec, from) { return rec.f.slice(from).map(function (f) { return text(g, f); }); }

    function status(g) {
      if (g.status === undefined) { g.status = cell(g, COL.status); }
      return g.status;
    }

    function loc(g) {
      if (g.loc === undefined) { g.loc = cell(g, COL.account) + "/" + cell(g, COL.region); }
      return g.loc;
    }

    // [severity, kind] of each active finding
    function combos(g) {
      if (!g.combos) {
        g.combos = records(g).filter(function (r) { return r.t === "R" && r.f[0].length === 2; })
          .map(function (r) { return [SEV[r.f[0].charAt(0)], KIND[r.f[0].charAt(1)]]; });
      }
      return g.combos;
    }

    // what the free-text search looks in: the row and every text of the details
    function haystack(g) {
      if (g.text === undefined) {
        var parts = [g.body.rows[0].textContent];
        records(g).forEach(function (r) {
          if (r.t === "S") { return; }
          var values = texts(g, r, r.t === "R" || r.t === "A" ? 1 : 0);
          if (r.t === "N") {
            parts.push(values[0] + cell(g, COL.name) + (values[1] || ""));
          } else if (r.t === "T") {
            for (var k = 0; k < values.length; k += 2) { parts.push(values[k] + "=" + (values[k + 1] || "")); }
          } else {
            parts.push(values.join(" "));
          }
        });
        g.text = parts.join(" ").toLowerCase();
      }
      return g.text;
    }

    function filters() {
      return {
        sevs: sevBoxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; }),
        kind: form.elements.kind.value,
        loc: form.elements.loc.value,
        status: form.elements.status.value,
        terms: form.elements.q.value.toLowerCase().split(/\s+/).filter(Boolean)
      };
    }

    function matches(g, f) {
      if ((f.loc && loc(g) !== f.loc) || (f.status && status(g) !== f.status)) { return false; }
      if ((f.sevs.length || f.kind) && !combos(g).some(function (sk) {
        return (!f.sevs.length || f.sevs.indexOf(sk[0]) >= 0) && (!f.kind || sk[1] === f.kind);
      })) { return false; }
      if (f.terms.length) {
        var hay = haystack(g);
        return f.terms.every(function (term) { return hay.indexOf(term) >= 0; });
      }
      return true;
    }

    // The group id becomes the button that opens the group (only listed rows need one).
    function enhance(g) {
      g.live = true;
      var th = g.body.rows[0].cells[COL.id];
      var open = g.body.classList.contains("open");
      var button = make("button", th.textContent, "tg");
      button.type = "button";
      button.setAttribute("aria-expanded", String(open));
      th.textContent = "";
      th.appendChild(button);
      g.button = button;
      if (open) { details(g); }
    }

    function details(g) {
      if (g.detail) { return g.detail; }
      var recs = records(g);
      var tr = make("tr", "", "detail");
      tr.id = "d" + g.i;
      var td = document.createElement("td");
      td.colSpan = ncols;
      tr.appendChild(td);
      var of = function (t) { return recs.filter(function (r) { return r.t === t; }); };
      var desc = of("D").map(function (r) { return text(g, r.f[0]); }).concat(of("N").map(function (r) {
        return text(g, r.f[0]) + cell(g, COL.name) + text(g, r.f[1]);
      }));
      var tags = of("T"), unresolved = of("U"), rules = of("R"), accepted = of("A");
      var active = rules.filter(function (r) { return r.f[0].length === 2; }).length;

      if (desc.length || tags.length) {
        var facts = make("p", "", "facts");
        if (desc.length) {
          var d = make("span");
          d.appendChild(make("b", "Description"));
          d.appendChild(document.createTextNode(" " + desc[0]));
          facts.appendChild(d);
        }
        if (tags.length) {
          var t = make("span");
          t.appendChild(make("b", "Tags"));
          var kv = texts(g, tags[0], 0);
          for (var k = 0; k < kv.length; k += 2) {
            t.appendChild(document.createTextNode(" "));
            t.appendChild(make("code", kv[k] + "=" + (kv[k + 1] || "")));
          }
          facts.appendChild(t);
        }
        td.appendChild(facts);
      }
      unresolved.forEach(function (r) {
        var p = make("p", "", "unres");
        p.appendChild(make("b", "Desired state unknown:"));
        p.appendChild(document.createTextNode(" " + text(g, r.f[0]) + ". Rules that are extra whatever the desired state turns out to be" +
          " are reported; the others could not be checked, and nothing could be found missing."));
        td.appendChild(p);
      });
      of("W").forEach(function (r) { td.appendChild(make("p", text(g, r.f[0]), "warn")); });
      if (!active && !unresolved.length) {
        td.appendChild(make("p", "No active findings: this group matches its desired state" +
          (accepted.length ? ", apart from the accepted findings below" : "") + ".", "clean"));
      }

      var heads = ["Verdict", "Protocol", "Ports", "Source", "Why it is a finding", "Rule id · description"];
      var ingress = headed("it", "Ingress rules and findings", since ? heads.concat(["Open since"]) : heads);
      rules.forEach(function (r) {
        var code = r.f[0];
        var v = texts(g, r, 1);
        var id = [document.createTextNode(v[4] || (code.length === 2 ? "—" : "")), v[5] ? make("small", v[5]) : null];
        var cells, cls = "";
        if (code === "a") {
          cells = [[make("span", "allowed", "ok")], v[0], v[1], v[2], "", id];
        } else if (code === "n") {
          cells = [[make("span", "not checked", "unk")], v[0], v[1], v[2],
            "the desired state is unknown: this rule may or may not be permitted", id];
        } else if (code === "x") {
          cells = ["extra, accepted", v[0], v[1], v[2], "see accepted findings", id];
          cls = "acc";
        } else {
          cells = [[badge(code), document.createTextNode(" " + KIND[code.charAt(1)])], v[0], v[1], v[2], v[3], id];
          cls = "h-" + SEV[code.charAt(0)];
        }
        if (since) { cells.push(code.length === 2 ? v[6] || "" : ""); }
        ingress.tBodies[0].appendChild(row(cells, cls));
      });
      if (!rules.length) {
        var none = row(["No ingress rules."]);
        none.cells[0].colSpan = since ? 7 : 6;
        none.cells[0].className = "none";
        ingress.tBodies[0].appendChild(none);
      }
      td.appendChild(ingress);

      var firewall = of("F");
      if (firewall.length) {
        var ev = headed("ev", "Firewall rules that apply, in evaluation order (the first that matches decides)",
          ["#", "Level", "Rule", "Priority", "Action", "Applies", "Matches", "Decides"]);
        firewall.forEach(function (r, n) {
          var v = texts(g, r, 2).concat(["", "", "", "", ""]);  // trailing empty fields are left out
          ev.tBodies[0].appendChild(row([String(n + 1), v[0], v[1], r.f[0], r.f[1] || "", v[2], v[3], v[4]],
            v[4] ? "dec" : ""));
        });
        td.appendChild(ev);
      }

      if (accepted.length) {
        var acc = headed("at", "Accepted findings (waived or baselined; not counted as drift)",
          ["Severity", "Kind", "Protocol", "Ports", "Source", "Why it is a finding", "Accepted because"]);
        accepted.forEach(function (r) {
          var v = texts(g, r, 1);
          acc.tBodies[0].appendChild(row([[badge(r.f[0], "muted")], KIND[r.f[0].charAt(1)]].concat(v.slice(0, 5))));
        });
        td.appendChild(acc);
      }

      of("S").forEach(function (r) {
        var n = Number(r.f[0]);
        var source = document.getElementById("ds" + n);
        var state = source ? source.querySelector("table") : null;
        if (!state) { return; }
        var ref = make("div", "", "dsref");
        var heading = make("h3", "Desired rules ", "dsh");
        heading.appendChild(make("span", "(desired state " + (n + 1) + ": what the options give, and why)"));
        ref.appendChild(heading);
        var copy = state.cloneNode(true);
        r.f.slice(1).forEach(function (i) {
          var missing = copy.tBodies[0].rows[Number(i)];
          if (!missing) { return; }
          missing.classList.add("missing");
          missing.cells[0].appendChild(make("span", "missing", "flag"));
        });
        ref.appendChild(copy);
        td.appendChild(ref);
      });

      g.body.appendChild(tr);
      g.detail = tr;
      if (g.button) { g.button.setAttribute("aria-controls", tr.id); }
      return tr;
    }

    function setOpen(g, open) {
      if (open) { details(g); }
      g.body.classList.toggle("open", open);
      if (g.button) { g.button.setAttribute("aria-expanded", String(open)); }
    }

    function plural(n) { return n + " group" + (n === 1 ? "" : "s"); }

    // Show the groups that match, up to the limit (all of them when printing).
    function apply() {
      var f = filters();
      var n = 0, listing = 0;
      cards.forEach(function (c) { c.setAttribute("aria-pressed", String(f.sevs.indexOf(c.getAttribute("data-sev")) >= 0)); });
      groups.forEach(function (g) {
        var ok = matches(g, f);
        if (ok) { n += 1; }
        var show = ok && (printing || n <= limit);
        if (g.body.hidden === show) { g.body.hidden = !show; }
        if (show) {
          listing += 1;
          if (!g.live) { enhance(g); }
        }
      });
      table.classList.add("live");
      noMatch.hidden = n > 0;
      shown.textContent = (n === groups.length ? "" : "Showing " + n + " of ") + plural(groups.length);
      more.hidden = listing >= n;
      if (listing < n) {
        listed.textContent = "Listing " + listing + " of " + plural(n) + ".";
        document.getElementById("show-more").textContent = "Show " + Math.min(page, n - listing) + " more";
      }
    }

    form.addEventListener("change", apply);
    form.addEventListener("input", function (e) {
      if (e.target.name !== "q") { return; }
      clearTimeout(timer);
      timer = setTimeout(apply, groups.length > 500 ? 150 : 0);
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    form.addEventListener("reset", function () { setTimeout(apply, 0); });
    cards.forEach(function (card) {
      card.addEventListener("click", function () {
        var box = sevBoxes.filter(function (b) { return b.value === card.getAttribute("data-sev"); })[0];
        if (box) { box.checked = !box.checked; apply(); }
      });
    });
    document.getElementById("show-more").addEventListener("click", function () { limit += page; apply(); });
    document.getElementById("show-all").addEventListener("click", function () { limit = Infinity; apply(); });

    // Printing shows every group that matches, with the details of each one that is not ok.
    window.addEventListener("beforeprint", function () {
      printing = true;
      apply();
      groups.forEach(function (g) { if (!g.body.hidden && status(g) !== "ok") { details(g); } });
    });
    window.addEventListener("afterprint", function () { printing = false; apply(); });

    table.addEventListener("click", function (e) {
      var target = e.target;
      var tr = target.closest ? target.closest("tr") : null;
      var g = tr && tr.parentNode.parentNode === table ? byBody.get(tr.parentNode) : null;
      if (!g || tr !== g.body.rows[0]) { return; }   // a click in the details, or in thead/tfoot
      if (!target.closest("button.tg") && window.getSelection && String(window.getSelection())) { return; }
      setOpen(g, !g.body.classList.contains("open"));
    });
    document.getElementById("expand-all").addEventListener("click", function () {
      groups.forEach(function (g) { if (!g.body.hidden) { setOpen(g, true); } });
    });
    document.getElementById("collapse-all").addEventListener("click", function () {
      groups.forEach(function (g) { if (g.body.classList.contains("open")) { setOpen(g, false); } });
    });

    function sortKey(g, col, kind) {
      var t = cell(g, col).trim().toLowerCase();
      if (kind === "status" || kind === "severity") {
        var word = t.split(/\s+/)[0];
        return Object.prototype.hasOwnProperty.call(RANK, word) ? RANK[word] : 9;
      }
      if (kind === "num") { return parseInt(t, 10) || 0; }
      return t;
    }

    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    heads.forEach(function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var kind = th.getAttribute("data-sort");
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        var keyed = groups.map(function (g, i) { return { g: g, key: sortKey(g, col, kind), i: i }; });
        keyed.sort(function (a, b) {
          if (a.key < b.key) { return -dir; }
          if (a.key > b.key) { return dir; }
          return a.i - b.i;
        });
        groups = keyed.map(function (k) { return k.g; });
        var frag = document.createDocumentFragment();
        groups.forEach(function (g) { frag.appendChild(g.body); });
        table.insertBefore(frag, table.tFoot);
        apply();
      });
    });

    apply();
  });
})();
