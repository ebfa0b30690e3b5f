/* QuizMarker: small progressive enhancements shared by every page (no framework, no build step; htmx from
 * static/vendor/htmx/ swaps server-drawn fragments in).
 *
 * Job cards ([data-job]) are drawn by the server only (templates/grading/_job_card.html). While a card's job is queued
 * or processing, the card follows it: each event of the job's live stream (server-sent events at the card's
 * data-events address) fetches the card again from its data-card address and htmx swaps it in place. Where the
 * browser has no EventSource, or the stream fails, the card is fetched every 2 s instead. At most MAX_STREAMS jobs
 * of a page stream at once (a browser opens only six connections to a host); the others poll. A failed job's Retry
 * form posts through htmx and the answer (the new job's card, or the old one saying why not) takes the card's place.
 * (The bar's fill has an id, so htmx settles its width from the old value to the new one and the bar still glides.)
 * Everything also works without JavaScript: the cards are rendered by the server and Retry is an ordinary form.
 */
(function () {
  "use strict";

  var POLL_MS = 2000;
  var MAX_STREAMS = 4;
  var streams = 0;
  var ACTIVE = { queued: true, processing: true };
  var followed = {};  // job id -> { source: EventSource|null, timer, busy, again }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function cardOf(id) { return document.querySelector('[data-job="' + id + '"]'); }

  function closeStream(state) {
    if (!state.source) return;
    state.source.close();
    state.source = null;
    streams -= 1;
  }

  function stop(id) {
    var state = followed[id];
    if (!state) return;
    closeStream(state);
    window.clearTimeout(state.timer);
    delete followed[id];
  }

  function schedulePoll(id, delay) {
    var state = followed[id];
    if (!state || state.source) return;
    window.clearTimeout(state.timer);
    state.timer = window.setTimeout(function () { redraw(id); }, delay);
  }

  // Fetch the card again and swap it in; changes that arrive meanwhile ask for one more fetch after this one.
  function redraw(id) {
    var state = followed[id];
    var card = cardOf(id);
    if (!state || !card) { stop(id); return; }
    if (state.busy) { state.again = true; return; }
    state.busy = true;
    window.htmx.ajax("GET", card.getAttribute("data-card"), { source: card, target: card, swap: "outerHTML" })
      .catch(function () { return "unreachable"; })
      .then(function (outcome) {
        state.busy = false;
        if (followed[id] !== state) return;  // finished (or gone) with this redraw
        if (state.again) { state.again = false; redraw(id); return; }
        schedulePoll(id, outcome === "unreachable" ? POLL_MS * 2 : POLL_MS);  // a network blip: later
      });
  }

  function follow(id, card) {
    var state = followed[id] = { source: null, timer: null, busy: false, again: false };
    if (!window.EventSource || streams >= MAX_STREAMS) { schedulePoll(id, 300); return; }
    var source = new window.EventSource(card.getAttribute("data-events"));
    state.source = source;
    streams += 1;
    source.onmessage = function (event) {
      if (state.source !== source) return;
      // The server ends the stream after the last change; closing first stops EventSource from reconnecting.
      if (!ACTIVE[JSON.parse(event.data).status]) closeStream(state);
      redraw(id);
    };
    source.onerror = function () {
      if (state.source !== source) return;
      closeStream(state);
      schedulePoll(id, 0);
    };
  }

  function finished(card) {
    if (card.getAttribute("data-status") === "completed" && card.hasAttribute("data-reload-on-complete")) {
      window.setTimeout(function () { window.location.reload(); }, 600);
    }
  }

  // A card has appeared (with the page, inserted, or redrawn): follow its job while it runs.
  function watch(card) {
    var id = card.getAttribute("data-job");
    if (ACTIVE[card.getAttribute("data-status")]) {
      if (!followed[id]) follow(id, card);
    } else if (followed[id]) {
      stop(id);
      finished(card);
    }
  }

  // A card that cannot be fetched (signed out, job gone) stops following and says so; a refused retry (409, 429)
  // answers with the card saying why, which is drawn like any other answer.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (detail.requestConfig.elt.matches("form[data-retry]") && detail.xhr.status < 500) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });
  document.addEventListener("htmx:responseError", function (event) {
    var card = event.detail.target;
    if (!card || !card.hasAttribute("data-job") || event.detail.requestConfig.elt !== card) return;
    stop(card.getAttribute("data-job"));
    var error = card.querySelector("[data-role=error]");
    error.textContent = "The job's progress could not be read; reload the page to see it.";
    error.hidden = false;
  });

  // Confirmation for destructive buttons (cancel a job).
  function enhanceConfirm(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  // Table rows that link somewhere as a whole (the first link stays the accessible target).
  function enhanceRowLinks(root) {
    root.querySelectorAll("tr[data-href]").forEach(function (row) {
      row.addEventListener("click", function (event) {
        if (event.target.closest("a, button, input, select, textarea, label, summary")) return;
        window.location.href = row.getAttribute("data-href");
      });
    });
  }

  // A select that shows a related block only for one value (e.g. "create a new student").
  function enhanceReveal(root) {
    root.querySelectorAll("select[data-reveal]").forEach(function (select) {
      var target = document.querySelector(select.getAttribute("data-reveal"));
      if (!target) return;
      function toggle() { target.hidden = select.value !== select.getAttribute("data-reveal-value"); }
      select.addEventListener("change", toggle);
      toggle();
    });
  }

  // A select whose options are addresses: choosing one opens it.
  function enhanceNavigate(root) {
    root.querySelectorAll("select[data-navigate]").forEach(function (select) {
      select.addEventListener("change", function () { if (select.value) window.location.href = select.value; });
    });
  }

  window.QuizMarker = { csrfToken: csrfToken, el: el };

  window.htmx.onLoad(function (root) {
    if (root.matches && root.matches("[data-job]")) watch(root);
    root.querySelectorAll("[data-job]").forEach(watch);
  });

  document.addEventListener("DOMContentLoaded", function () {
    enhanceConfirm(document);
    enhanceRowLinks(document);
    enhanceReveal(document);
    enhanceNavigate(document);
  });
})();
