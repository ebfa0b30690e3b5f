/* QuizMarker: small progressive enhancements shared by every page (no framework, no build step).
 *
 * Job cards ([data-job]) follow their job while it is queued or processing — by its live stream of server-sent
 * events (GET /jobs/<id>/events) where the browser has EventSource, else by polling GET /api/v1/jobs/<id> every 2 s,
 * which is also what a card falls back to by itself when its stream fails — and update their progress bar, step and
 * status; a failed job shows its error and a retry button. At most MAX_STREAMS cards of a page stream at once (a
 * browser opens only six connections to a host); the others poll. Everything also works
 * without JavaScript: the cards are rendered by the server and the retry/cancel buttons are ordinary forms.
 */
(function () {
  "use strict";

  var POLL_MS = 2000;
  var MAX_STREAMS = 4;
  var streams = 0;
  var ACTIVE = { queued: true, processing: true };
  var STATUS_LABELS = {
    queued: "Queued", processing: "Processing", completed: "Completed", failed: "Failed", cancelled: "Cancelled"
  };

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

  function postJSON(url) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json", "X-Requested-With": "fetch" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { ok: response.ok, status: response.status, body: body };
      });
    });
  }

  function completionLinks(card, job) {
    var actions = card.querySelector("[data-role=actions]");
    if (!actions) return;
    actions.textContent = "";
    var result = job.result || {};
    var ids = result.submission_ids || [];
    if (job.job_type === "extraction") {
      if (!ids.length) {
        actions.appendChild(el("span", { "class": "muted" }, "No answers were found on these pages."));
      }
      ids.forEach(function (id, index) {
        var label = ids.length > 1 ? "Review script " + (index + 1) : "Review the transcription";
        actions.appendChild(el("a", { "class": "button small", href: "/submissions/" + id + "/review/" }, label));
      });
    } else if (job.job_type === "grading") {
      ids.forEach(function (id, index) {
        var label = ids.length > 1 ? "Results of script " + (index + 1) : "See the results";
        actions.appendChild(el("a", { "class": "button small", href: "/submissions/" + id + "/" }, label));
      });
    }
  }

  function failureActions(card, job) {
    var actions = card.querySelector("[data-role=actions]");
    if (!actions) return;
    actions.textContent = "";
    var button = el("button", { type: "button", "class": "button small", "data-role": "retry" }, "Retry");
    button.addEventListener("click", function () { retry(card, button); });
    actions.appendChild(button);
    actions.appendChild(el("a", { "class": "small-link", href: "/jobs/" + job.id + "/" }, "See what happened"));
  }

  function retry(card, button) {
    button.disabled = true;
    button.textContent = "Starting again…";
    postJSON("/jobs/" + card.getAttribute("data-job") + "/retry/").then(function (reply) {
      if (!reply.ok) {
        showError(card, (reply.body && reply.body.error) || "The job could not be started again.");
        button.disabled = false;
        button.textContent = "Retry";
        return;
      }
      card.setAttribute("data-job", reply.body.data.job_id);
      var link = card.querySelector("[data-role=link]");
      if (link) link.setAttribute("href", "/jobs/" + reply.body.data.job_id + "/");
      update(card, { id: reply.body.data.job_id, job_type: reply.body.data.job_type, status: "queued",
                     progress: 0, current_step: "Waiting for a worker" });
      follow(card);
    });
  }

  function showError(card, message) {
    var error = card.querySelector("[data-role=error]");
    if (!error) return;
    error.textContent = message;
    error.hidden = !message;
  }

  function update(card, job) {
    var progress = Math.max(0, Math.min(100, job.progress || 0));
    var bar = card.querySelector("[role=progressbar]");
    if (bar) {
      bar.setAttribute("aria-valuenow", String(progress));
      bar.setAttribute("aria-valuetext", progress + " %: " + (job.current_step || ""));
      var fill = bar.querySelector("span");
      if (fill) fill.style.width = progress + "%";
    }
    var percent = card.querySelector("[data-role=percent]");
    if (percent) percent.textContent = progress + " %";
    var step = card.querySelector("[data-role=step]");
    if (step && job.current_step) step.textContent = job.current_step;
    var status = card.querySelector("[data-role=status]");
    if (status) {
      status.textContent = STATUS_LABELS[job.status] || job.status;
      status.className = "badge status-" + job.status;
    }
    card.setAttribute("data-status", job.status);
    card.classList.toggle("is-active", !!ACTIVE[job.status]);
    if (job.status === "failed") {
      showError(card, job.error || "The job failed.");
      failureActions(card, job);
    } else {
      showError(card, "");
    }
    if (job.status === "completed") completionLinks(card, job);
    if (job.status === "cancelled") failureActions(card, job);
  }

  function finished(card, job) {
    card.dispatchEvent(new CustomEvent("qm:job-finished", { bubbles: true, detail: job }));
    if (job.status !== "completed") return;
    if (card.hasAttribute("data-reload-on-complete")) {
      window.setTimeout(function () { window.location.reload(); }, 600);
    } else if (card.hasAttribute("data-redirect-on-complete")) {
      window.setTimeout(function () { window.location.href = card.getAttribute("data-redirect-on-complete"); }, 600);
    }
  }

  function poll(card) {
    if (card._qmTimer) window.clearTimeout(card._qmTimer);
    var id = card.getAttribute("data-job");
    fetch("/api/v1/jobs/" + id, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (reply) {
        if (card.getAttribute("data-job") !== id) return; // retried meanwhile
        if (!reply.ok) {
          showError(card, (reply.body && reply.body.error) || "The job's status could not be read.");
          return;
        }
        var job = reply.body.data;
        update(card, job);
        if (ACTIVE[job.status]) {
          card._qmTimer = window.setTimeout(function () { poll(card); }, POLL_MS);
        } else {
          finished(card, job);
        }
      })
      .catch(function () {
        // A network blip: try again a little later rather than giving up.
        card._qmTimer = window.setTimeout(function () { poll(card); }, POLL_MS * 2);
      });
  }

  function stopStream(card) {
    if (!card._qmStream) return;
    card._qmStream.close();
    card._qmStream = null;
    streams -= 1;
  }

  // Follow a card's job by its event stream; poll instead when there is none, or as soon as it fails.
  function follow(card) {
    stopStream(card);
    if (card._qmTimer) window.clearTimeout(card._qmTimer);
    if (!window.EventSource || streams >= MAX_STREAMS) {
      card._qmTimer = window.setTimeout(function () { poll(card); }, 300);
      return;
    }
    var id = card.getAttribute("data-job");
    var source = new window.EventSource("/jobs/" + id + "/events");
    card._qmStream = source;
    streams += 1;
    source.onmessage = function (event) {
      if (card.getAttribute("data-job") !== id) { stopStream(card); return; } // retried meanwhile
      var job = JSON.parse(event.data);
      update(card, job);
      if (!ACTIVE[job.status]) {
        stopStream(card);  // the server ends the stream too; closing stops EventSource from reconnecting
        finished(card, job);
      }
    };
    source.onerror = function () {
      if (card._qmStream !== source) return;
      stopStream(card);
      poll(card);
    };
  }

  function watch(card) {
    var status = card.getAttribute("data-status");
    if (ACTIVE[status]) {
      card.classList.add("is-active");
      follow(card);
    }
  }

  // JavaScript-driven retry buttons replace the no-JS retry forms inside job cards.
  function enhanceRetryForms(root) {
    root.querySelectorAll("[data-job] form[data-retry]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var card = form.closest("[data-job]");
        retry(card, form.querySelector("button"));
      });
    });
  }

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

  window.QuizMarker = { watch: watch, follow: follow, poll: poll, update: update, csrfToken: csrfToken, el: el };

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-job]").forEach(watch);
    enhanceRetryForms(document);
    enhanceConfirm(document);
    enhanceRowLinks(document);
    enhanceReveal(document);
    enhanceNavigate(document);
  });
})();
