/* The upload page: drag-and-drop and a file picker, previews, checks before sending (type, size, count — the
 * server checks again), then POST /api/v1/upload and the job's progress card (drawn by the server; app.js follows
 * it). Without JavaScript the form posts to the page itself and the server does the same checks. */
(function () {
  "use strict";

  var TYPES = { "image/png": 1, "image/jpeg": 1, "image/gif": 1, "image/webp": 1, "application/pdf": 1 };
  var EXTENSIONS = { png: 1, jpg: 1, jpeg: 1, gif: 1, webp: 1, pdf: 1 };
  var PDF_ICON = '<svg viewBox="0 0 48 60" aria-hidden="true" class="pdf-icon"><path d="M4 2h28l12 12v42a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2z" fill="#fff" stroke="#c9372c" stroke-width="2.5"/><path d="M32 2v12h12" fill="#fbe3e1" stroke="#c9372c" stroke-width="2.5"/><rect x="6" y="34" width="36" height="14" rx="2" fill="#c9372c"/><text x="24" y="45" font-size="11" font-family="system-ui,sans-serif" font-weight="700" text-anchor="middle" fill="#fff">PDF</text></svg>';

  var form = document.getElementById("upload-form");
  if (!form) return;
  var QM = window.QuizMarker;
  var input = form.querySelector("input[type=file]");
  var dropzone = form.querySelector("[data-role=dropzone]");
  var previews = form.querySelector("[data-role=previews]");
  var errors = form.querySelector("[data-role=file-errors]");
  var summary = form.querySelector("[data-role=summary]");
  var submit = form.querySelector("[data-role=submit]");
  var sending = form.querySelector("[data-role=upload-progress]");
  var jobs = document.querySelector("[data-role=jobs]");
  var jobsEmpty = document.querySelector("[data-role=jobs-empty]");
  var maxFiles = parseInt(form.getAttribute("data-max-files"), 10) || 20;
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 16 * 1024 * 1024;
  var selected = [];

  function megabytes(bytes) {
    return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function problem(file) {
    var extension = (file.name.split(".").pop() || "").toLowerCase();
    if (!(TYPES[file.type] || (!file.type && EXTENSIONS[extension]))) {
      return "“" + file.name + "” is not a photo or PDF. Upload PNG, JPEG, GIF or WebP images, or PDF files.";
    }
    if (file.size > maxBytes) {
      return "“" + file.name + "” is " + megabytes(file.size) + "; each file may be at most " + megabytes(maxBytes) + ".";
    }
    if (file.size === 0) return "“" + file.name + "” is empty.";
    return "";
  }

  function showErrors(list) {
    errors.textContent = "";
    list.forEach(function (message) { errors.appendChild(QM.el("span", { "class": "line" }, message)); });
    errors.hidden = list.length === 0;
  }

  function render() {
    previews.querySelectorAll("img[data-url]").forEach(function (img) { URL.revokeObjectURL(img.src); });
    previews.textContent = "";
    selected.forEach(function (file, index) {
      var item = QM.el("li", { "class": "preview" });
      var thumb = QM.el("div", { "class": "thumb" });
      if (file.type === "application/pdf" || /\.pdf$/i.test(file.name)) {
        thumb.innerHTML = PDF_ICON;
      } else {
        var img = QM.el("img", { alt: "", "data-url": "1" });
        img.src = URL.createObjectURL(file);
        thumb.appendChild(img);
      }
      item.appendChild(thumb);
      item.appendChild(QM.el("span", { "class": "name", title: file.name }, file.name));
      item.appendChild(QM.el("span", { "class": "muted small" }, megabytes(file.size)));
      var remove = QM.el("button", { type: "button", "class": "remove", "aria-label": "Remove " + file.name }, "×");
      remove.addEventListener("click", function () {
        selected.splice(index, 1);
        render();
      });
      item.appendChild(remove);
      previews.appendChild(item);
    });
    var total = selected.reduce(function (sum, f) { return sum + f.size; }, 0);
    summary.textContent = selected.length
      ? selected.length + " file" + (selected.length === 1 ? "" : "s") + " selected (" + megabytes(total) + ")"
      : "";
  }

  function add(files) {
    var messages = [];
    Array.prototype.forEach.call(files, function (file) {
      var why = problem(file);
      if (why) { messages.push(why); return; }
      var duplicate = selected.some(function (f) {
        return f.name === file.name && f.size === file.size && f.lastModified === file.lastModified;
      });
      if (duplicate) return;
      if (selected.length >= maxFiles) {
        messages.push("Upload at most " + maxFiles + " files at a time; “" + file.name + "” was left out.");
        return;
      }
      selected.push(file);
    });
    showErrors(messages);
    render();
  }

  input.addEventListener("change", function () {
    add(input.files);
    input.value = "";
  });
  ["dragenter", "dragover"].forEach(function (type) {
    dropzone.addEventListener(type, function (event) {
      event.preventDefault();
      dropzone.classList.add("is-over");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    dropzone.addEventListener(type, function (event) {
      event.preventDefault();
      dropzone.classList.remove("is-over");
    });
  });
  dropzone.addEventListener("drop", function (event) {
    if (event.dataTransfer && event.dataTransfer.files) add(event.dataTransfer.files);
  });

  // The accepted upload's card, drawn by the server (GET /jobs/<id>/card/); app.js follows it once it is in.
  function addJobCard(jobId) {
    var url = jobs.getAttribute("data-card-url").replace("00000000-0000-0000-0000-000000000000", jobId);
    window.htmx.ajax("GET", url, { source: jobs, target: jobs, swap: "afterbegin" }).then(function () {
      if (jobsEmpty) jobsEmpty.hidden = true;
      var card = jobs.querySelector('[data-job="' + jobId + '"]');
      if (card) card.scrollIntoView({ behavior: "smooth", block: "nearest" });
    });
  }

  function setSending(on, percent, text) {
    sending.hidden = !on;
    submit.disabled = on;
    var bar = sending.querySelector("[role=progressbar]");
    bar.setAttribute("aria-valuenow", String(percent));
    bar.querySelector("span").style.width = percent + "%";
    sending.querySelector("[data-role=upload-step]").textContent = text;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!selected.length) {
      showErrors(["Choose one or more answer sheets to upload."]);
      return;
    }
    var data = new FormData();
    selected.forEach(function (file) { data.append("files", file, file.name); });
    var standard = form.querySelector("select[name=standard]").value;
    if (standard.charAt(0) === "m") data.append("mark_scheme_id", standard.slice(1));  // an own subject's scheme
    else if (standard) data.append("standard_id", standard);
    var label = form.querySelector("input[name=session_label]").value.trim();
    if (label) data.append("session_label", label);
    if (form.querySelector("input[name=grade]").checked) data.append("grade", "true");
    var priority = form.querySelector("select[name=priority]");  // offered to owners and admins only
    if (priority && priority.value !== "normal") data.append("priority", priority.value);

    var request = new XMLHttpRequest();
    request.open("POST", form.getAttribute("data-api-url"));
    request.setRequestHeader("X-CSRFToken", QM.csrfToken());
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        var percent = Math.round((100 * e.loaded) / e.total);
        setSending(true, percent, "Sending files… " + percent + " %");
      }
    });
    request.addEventListener("load", function () {
      var body = {};
      try { body = JSON.parse(request.responseText); } catch (err) { body = {}; }
      setSending(false, 0, "");
      if (request.status === 202 && body.success) {
        selected = [];
        render();
        showErrors([]);
        addJobCard(body.data.job_id);
      } else {
        showErrors([body.error || "The upload was not accepted (HTTP " + request.status + "). Please try again."]);
      }
    });
    request.addEventListener("error", function () {
      setSending(false, 0, "");
      showErrors(["The files could not be sent: check your connection and try again."]);
    });
    setSending(true, 0, "Sending files…");
    request.send(data);
  });
})();
