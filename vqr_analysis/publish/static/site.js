/* vqr-analysis site: provenance popovers, charts drawn with the vendored vega-embed, table filters.
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
  document.querySelectorAll(".vqr-chart").forEach(function (figure) {
    var target = figure.querySelector(".vqr-vega");
    var specNode = figure.querySelector("script.vqr-spec");
    if (!target || !specNode) { return; }
    if (typeof window.vegaEmbed !== "function") {
      target.textContent = "图表库未加载 / chart library not loaded";
      return;
    }
    var spec = JSON.parse(specNode.textContent);
    window.vegaEmbed(target, spec, { renderer: "svg", actions: false, config: { font: FONT } })
      .then(function (result) {
        figure.classList.add("vqr-drawn");
        result.view.addEventListener("click", function (event, item) {
          var record = datumRecord(item && item.datum);
          if (record) { openPopover(record, null, event.clientX, event.clientY); }
        });
      })
      .catch(function (err) {
        target.textContent = "图表无法绘制 / chart could not be drawn: " + err.message;
        console.error(err);
      });
  });

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
})();
