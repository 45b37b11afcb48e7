/* vqr-analysis site: provenance popovers, charts drawn with the vendored vega-embed, table filters, search.
   Plain ES5-style script so it runs from file:// with no modules and no network. */
(function () {
  "use strict";

  // obs_id -> provenance record, merged from every <script type="application/json" class="vqr-prov">.
  var provenance = {};
  document.querySelectorAll("script.vqr-prov").forEach(function (block) {
    try {
      var records = JSON.parse(block.textContent);
      Object.keys(records).forEach(function (k) { provenance[k] = records[k]; });
    } catch (err) {
      console.warn("vqr: unreadable provenance block", err);
    }
  });

  var FIELDS = [
    ["region", "地区 Region"], ["report_id", "报告 Report"], ["source_file", "文件 File"], ["line", "行 Line"],
    ["raw", "原样 As printed"], ["year", "年份 Year"], ["status", "状态 Status"], ["method", "方式 Method"],
    ["pick_reason", "取值理由 Why this value"], ["flags", "质量提示 Flags"]
  ];

  var popover = document.createElement("div");
  popover.className = "vqr-popover";
  popover.setAttribute("role", "dialog");
  popover.setAttribute("aria-modal", "false");
  popover.setAttribute("aria-labelledby", "vqr-popover-title");
  popover.tabIndex = -1;
  popover.hidden = true;
  document.body.appendChild(popover);
  var opener = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }  // text only: never HTML
    return node;
  }

  function closePopover() {
    if (popover.hidden) { return; }
    popover.hidden = true;
    if (opener && opener.focus) { opener.setAttribute("aria-expanded", "false"); opener.focus(); }
    opener = null;
  }

  function openPopover(record, anchor, x, y) {
    popover.textContent = "";
    var head = el("div", "vqr-popover-head");
    head.appendChild(el("strong", null, (record.label || "") + (record.value_text ? "：" + record.value_text : "")));
    head.firstChild.id = "vqr-popover-title";
    var close = el("button", "vqr-popover-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "关闭 / Close");
    close.addEventListener("click", closePopover);
    head.appendChild(close);
    popover.appendChild(head);
    if (record.quote) {
      var quote = el("blockquote", "vqr-popover-quote", record.quote);
      quote.setAttribute("lang", "zh");
      popover.appendChild(quote);
    }
    var list = el("dl", "vqr-popover-fields");
    FIELDS.forEach(function (f) {
      var v = record[f[0]];
      if (v === undefined || v === null || v === "") { return; }
      list.appendChild(el("dt", null, f[1]));
      list.appendChild(el("dd", null, v));
    });
    popover.appendChild(list);
    if (record.href) {  // the reading view links each value to its row on the sources page
      var link = el("a", "vqr-popover-link", "在来源页查看这一条 / this value on the sources page");
      link.href = record.href;
      popover.appendChild(link);
    }
    popover.hidden = false;
    var rect = anchor ? anchor.getBoundingClientRect() : null;
    var left = rect ? rect.left : (x || 20);
    var top = rect ? rect.bottom + 6 : (y || 20) + 12;
    var width = Math.min(420, window.innerWidth - 24);
    left = Math.max(12, Math.min(left, window.innerWidth - width - 12));
    popover.style.width = width + "px";
    popover.style.left = (left + window.scrollX) + "px";
    popover.style.top = (top + window.scrollY) + "px";
    opener = anchor && anchor.focus ? anchor : null;
    if (opener) { opener.setAttribute("aria-expanded", "true"); }
    close.focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".vqr-val[data-obs]") : null;
    if (button) {
      var record = provenance[button.getAttribute("data-obs")];
      if (record) { openPopover(record, button); event.stopPropagation(); }
      return;
    }
    var inChart = event.target.closest && event.target.closest(".vqr-vega");  // the chart opened it
    if (!popover.hidden && !popover.contains(event.target) && !inChart) { closePopover(); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { closePopover(); }
  });

  // A chart mark's provenance: its obs_id on this page, else the quote and "file:line" fields it carries.
  function datumRecord(datum) {
    if (!datum) { return null; }
    if (datum.obs_id !== undefined && datum.obs_id !== null && provenance[String(datum.obs_id)]) {
      return provenance[String(datum.obs_id)];
    }
    var quote = datum.quote || datum.quote_short;
    if (!quote) { return null; }
    var source = String(datum.source || "");
    var cut = source.lastIndexOf(":");
    var value = datum.value === undefined || datum.value === null ? "" : String(datum.value) + (datum.unit ? " " + datum.unit : "");
    return {
      label: datum.label || datum.indicator_label || datum.indicator || "", quote: quote,
      line: datum.line || (cut > 0 ? source.slice(cut + 1) : undefined),
      source_file: datum.source_file || (cut > 0 ? source.slice(0, cut) : undefined),
      region: datum.region_zh || datum.region_label || datum.region, report_id: datum.report_id,
      raw: datum.raw, year: datum.year || datum.year_text, status: datum.status,
      value_text: datum.value_text || value
    };
  }

  var FONT = "Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif";
  var EMBED_OPTIONS = { renderer: "svg", actions: false, config: { font: FONT } };

  // A chart is never cut off by its column (a phone is 390 px; specs ask for 500-760 px). One wider than its
  // column is drawn again with its legend below and its plot narrowed by what stuck out, value labels past the
  // plot included (single views; Vega-Lite's "container" width would do the same but warns about every
  // step-sized height). What still does not fit, or a facet or concatenation, is scaled down whole.
  function overflow(target) {
    var svg = target.querySelector("svg");
    if (!svg) { return 0; }
    var box = svg.getBBox();  // everything drawn (Vega's SVG units are CSS px)
    return Math.max(svg.getBoundingClientRect().width, box.x + box.width) - target.clientWidth;
  }

  function singleView(spec) {
    return !(spec.facet || spec.concat || spec.hconcat || spec.vconcat || spec.repeat);
  }

  function narrowed(spec, width) {
    var copy = JSON.parse(JSON.stringify(spec));
    copy.width = width;
    copy.config = copy.config || {};
    copy.config.legend = Object.assign({}, copy.config.legend, { orient: "bottom" });
    return copy;
  }

  function scaleToFit(figure, target) {
    var svg = target.querySelector("svg");
    var box = svg.getBBox();
    var width = Math.max(svg.getBoundingClientRect().width, box.x + box.width);
    svg.setAttribute("viewBox", "0 0 " + Math.ceil(width) + " " + svg.getAttribute("height"));
    figure.classList.add("vqr-scaled");
  }

  function drawChart(figure, target, spec, attempt) {
    return window.vegaEmbed(target, spec, EMBED_OPTIONS).then(function (result) {
      var over = overflow(target);
      if (over > 1 && attempt < 2 && singleView(spec)) {
        var width = Math.max(60, Math.floor(result.view.width() - over - 2));
        result.finalize();
        target.textContent = "";
        return drawChart(figure, target, narrowed(spec, width), attempt + 1);
      }
      if (over > 1) { scaleToFit(figure, target); }
      figure.classList.add("vqr-drawn");
      result.view.addEventListener("click", function (event, item) {
        var record = datumRecord(item && item.datum);
        if (record) { openPopover(record, null, event.clientX, event.clientY); }
      });
      return result;
    });
  }

  document.querySelectorAll(".vqr-chart").forEach(function (figure) {
    var target = figure.querySelector(".vqr-vega");
    var specNode = figure.querySelector("script.vqr-spec");
    if (!target || !specNode) { return; }
    if (typeof window.vegaEmbed !== "function") {
      target.textContent = "图表库未加载 / chart library not loaded";
      return;
    }
    drawChart(figure, target, JSON.parse(specNode.textContent), 0).catch(function (err) {
      target.textContent = "图表无法绘制 / chart could not be drawn: " + err.message;
      console.error(err);
    });
  });

  // A table wider than its column scrolls inside its own box, and says so: a hint above it and a shadow on the
  // side that has more. The page itself never scrolls sideways.
  var SCROLLERS = ".vqr-table-wrap, .vqr-dt, .vqr-page-ipynb .output_subarea, .cell-output-display";
  function markScrollers() {
    document.querySelectorAll(SCROLLERS).forEach(function (box) {
      var wide = box.scrollWidth > box.clientWidth + 1;
      box.classList.toggle("vqr-scrolls", wide);
      var hint = box.previousElementSibling;
      var hasHint = hint && hint.classList.contains("vqr-scroll-hint");
      if (wide && !hasHint) {
        box.parentNode.insertBefore(el("p", "vqr-scroll-hint", "← 表格可左右滑动 / the table scrolls sideways →"), box);
        box.setAttribute("tabindex", "0");  // reachable and scrollable from the keyboard
      } else if (!wide && hasHint) {
        hint.remove();
      }
      if (wide) { box.classList.toggle("vqr-scrolled-end", box.scrollLeft + box.clientWidth >= box.scrollWidth - 1); }
    });
  }
  document.addEventListener("scroll", function (event) {
    var box = event.target;
    if (box.classList && box.classList.contains("vqr-scrolls")) {
      box.classList.toggle("vqr-scrolled-end", box.scrollLeft + box.clientWidth >= box.scrollWidth - 1);
    }
  }, true);
  markScrollers();
  window.addEventListener("resize", markScrollers);

  // Filter the rows of a table by the words typed (code, Chinese or English name, alias).
  document.querySelectorAll("input[data-filter-table]").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-filter-table"));
    if (!table) { return; }
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      table.querySelectorAll("tbody tr[data-search]").forEach(function (row) {
        var text = row.getAttribute("data-search").toLowerCase();
        row.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
      });
    });
  });
  // indicators.html?filter=<code> (a search result) opens the explorer filtered to that indicator.
  var wanted = new URLSearchParams(window.location.search).get("filter");
  if (wanted) {
    document.querySelectorAll("input[data-filter-table]").forEach(function (input) {
      input.value = wanted;
      input.dispatchEvent(new Event("input"));
    });
  }

  // Search over every page and the codebook (embedded site). The index (assets/search-index.js, a classic
  // script so that it loads from file:// too) is read on first use; results are text only, never HTML.
  var searchForm = document.querySelector("form.vqr-search");
  if (searchForm) { setUpSearch(searchForm); }

  function setUpSearch(form) {
    var input = form.querySelector("input");
    var panel = form.querySelector(".vqr-search-results");
    var root = form.getAttribute("data-root") || "";
    var index = null;
    var requested = false;
    var timer = null;
    form.hidden = false;

    function loadIndex() {
      if (index || requested) { return; }
      requested = true;
      var script = document.createElement("script");
      script.src = root + "assets/search-index.js";
      script.onload = function () {
        index = (window.VQR_SEARCH || []).map(function (e) {
          return { e: e, title: e.title.toLowerCase(), section: e.section.toLowerCase(), text: e.text.toLowerCase() };
        });
        run();
      };
      script.onerror = function () { show([], "搜索索引未找到 / search index not found"); };
      document.head.appendChild(script);
    }

    function score(item, words) {
      var total = item.e.kind === "indicator" ? 1 : 0;
      for (var i = 0; i < words.length; i++) {
        var w = words[i];
        var s = (item.title.indexOf(w) >= 0 ? 6 : 0) + (item.section.indexOf(w) >= 0 ? 4 : 0) +
                (item.text.indexOf(w) >= 0 ? 2 : 0);
        if (!s) { return 0; }
        total += s;
      }
      return total;
    }

    function snippet(item, word) {
      var at = item.text.indexOf(word);
      var node = el("span", "vqr-search-snippet");
      if (at < 0) {
        node.textContent = item.e.text.slice(0, 90);
        return node;
      }
      var start = Math.max(0, at - 30);
      node.appendChild(document.createTextNode((start ? "…" : "") + item.e.text.slice(start, at)));
      node.appendChild(el("mark", null, item.e.text.slice(at, at + word.length)));
      node.appendChild(document.createTextNode(item.e.text.slice(at + word.length, at + word.length + 60) + "…"));
      return node;
    }

    function show(hits, message) {
      panel.textContent = "";
      if (message) { panel.appendChild(el("p", "vqr-search-note", message)); }
      if (hits.length) {
        var list = el("ol", "vqr-search-list");
        hits.forEach(function (hit) {
          var link = el("a", "vqr-search-hit");
          link.href = root + hit.item.e.href;
          link.appendChild(el("strong", null, hit.item.e.title));
          if (hit.item.e.section) { link.appendChild(el("small", null, " · " + hit.item.e.section)); }
          link.appendChild(snippet(hit.item, hit.word));
          var li = el("li");
          li.appendChild(link);
          list.appendChild(li);
        });
        panel.appendChild(list);
      }
      panel.hidden = !message && !hits.length;
    }

    function run() {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      if (!words.length) { show([]); return; }
      if (!index) { loadIndex(); show([], "正在载入索引… / loading the index…"); return; }
      var hits = [];
      index.forEach(function (item, order) {
        var s = score(item, words);
        if (s) { hits.push({ item: item, score: s, order: order, word: words[0] }); }
      });
      hits.sort(function (a, b) { return b.score - a.score || a.order - b.order; });
      var shown = hits.slice(0, 20);
      show(shown, hits.length ? hits.length + " 条结果 / results" + (hits.length > 20 ? "（显示前 20 / first 20 shown）" : "")
                              : "没有结果 / no results");
    }

    input.addEventListener("focus", loadIndex);
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 120); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var first = panel.querySelector("a.vqr-search-hit");
      if (first) { window.location.href = first.href; }
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") {
        var first = panel.querySelector("a.vqr-search-hit");
        if (first) { event.preventDefault(); first.focus(); }
      }
    });
    panel.addEventListener("keydown", function (event) {
      var links = Array.prototype.slice.call(panel.querySelectorAll("a.vqr-search-hit"));
      var i = links.indexOf(document.activeElement);
      if (event.key === "ArrowDown" && i >= 0 && i < links.length - 1) { event.preventDefault(); links[i + 1].focus(); }
      if (event.key === "ArrowUp" && i >= 0) { event.preventDefault(); (i ? links[i - 1] : input).focus(); }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && form.contains(document.activeElement)) { panel.hidden = true; input.focus(); }
    });
    document.addEventListener("click", function (event) {
      if (!form.contains(event.target)) { panel.hidden = true; }
    });
  }
})();
