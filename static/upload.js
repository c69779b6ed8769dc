// zipshort upload page: drag and drop, per-file progress, chunked uploads through /api/upload/partial
// (the v4.5 token protocol, inclusive Content-Range ends), pasted text uploaded as a file.
"use strict";

(function () {
  const list = document.getElementById("uploads");

  function optionHeaders(form) {
    const h = {};
    const value = (name) => { const el = form.elements.namedItem(name); return el ? el.value.trim() : ""; };
    if (value("format")) h["x-zipline-format"] = value("format");
    if (value("expiry")) h["x-zipline-deletes-at"] = value("expiry");
    if (value("max_views")) h["x-zipline-max-views"] = value("max_views");
    if (value("password")) h["x-zipline-password"] = value("password");
    if (value("folder")) h["x-zipline-folder"] = value("folder");
    if (value("compression")) h["x-zipline-image-compression-percent"] = value("compression");
    const original = form.elements.namedItem("original_name");
    if (original && original.checked) h["x-zipline-original-name"] = "true";
    return h;
  }

  function send(url, body, headers, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", window.zipshort.csrfToken());
      Object.entries(headers).forEach(([k, v]) => xhr.setRequestHeader(k, v));
      xhr.responseType = "json";
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded); };
      xhr.onload = () => {
        const data = xhr.response || {};
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(new Error(data.error || `HTTP ${xhr.status}`));
      };
      xhr.onerror = () => reject(new Error("Network error"));
      xhr.send(body);
    });
  }

  function row(name, size) {
    const li = document.createElement("li");
    const title = document.createElement("span");
    title.textContent = name;
    const status = document.createElement("span");
    status.className = "muted";
    status.textContent = "waiting";
    const bar = document.createElement("progress");
    bar.max = Math.max(size, 1);
    bar.value = 0;
    bar.setAttribute("aria-label", `Progress of ${name}`);
    li.append(title, status, bar);
    list.prepend(li);
    return { li, status, bar };
  }

  function showResult(ui, url) {
    ui.status.textContent = "done";
    ui.bar.value = ui.bar.max;
    const result = document.createElement("div");
    result.className = "result";
    const link = document.createElement("a");
    link.href = url;
    link.textContent = url;
    link.target = "_blank";
    link.rel = "noopener";
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "small secondary";
    copy.textContent = "Copy";
    copy.dataset.copy = url;
    result.append(link, copy);
    ui.li.append(result);
  }

  async function uploadOne(file, form) {
    const ui = row(file.name, file.size);
    const chunk = Number(form.dataset.chunkSize || 0);
    const threshold = Number(form.dataset.chunkThreshold || chunk);
    const maxSize = Number(form.dataset.maxSize || 0);
    const headers = optionHeaders(form);
    try {
      if (maxSize && file.size > maxSize) throw new Error("File is too large");
      let data;
      if (!chunk || file.size <= threshold) {
        const body = new FormData();
        body.append("file", file, file.name);
        ui.status.textContent = "uploading";
        data = await send("/api/upload", body, headers, (n) => { ui.bar.value = n; });
      } else {
        let token = "";
        for (let start = 0; start < file.size; start += chunk) {
          const end = Math.min(start + chunk, file.size);
          const last = end === file.size;
          const body = new FormData();
          body.append("file", file.slice(start, end), file.name);
          const h = Object.assign({}, headers, {
            "Content-Range": `bytes ${start}-${end - 1}/${file.size}`,
            "x-zipline-p-filename": encodeURIComponent(file.name),
            "x-zipline-p-content-type": file.type || "application/octet-stream",
            "x-zipline-p-content-length": String(file.size),
            "x-zipline-p-lastchunk": last ? "true" : "false",
          });
          if (token) h["x-zipline-p-token"] = token;
          ui.status.textContent = `chunk ${Math.floor(start / chunk) + 1} of ${Math.ceil(file.size / chunk)}`;
          data = await send("/api/upload/partial", body, h, (n) => { ui.bar.value = start + n; });
          token = data.partialToken || token;
        }
      }
      const url = data.files && data.files[0] && (data.files[0].url || data.files[0]);
      if (!url) throw new Error("The server answered without a URL");
      showResult(ui, url);
    } catch (err) {
      ui.status.textContent = err.message;
      ui.status.className = "error";
      ui.li.setAttribute("role", "alert");
    }
  }

  async function uploadAll(files, form) {
    for (const file of files) await uploadOne(file, form);
  }

  const form = document.getElementById("upload-form");
  if (form) {
    const zone = document.getElementById("dropzone");
    const input = document.getElementById("file-input");
    form.addEventListener("submit", (e) => e.preventDefault());
    input.addEventListener("change", () => { uploadAll(Array.from(input.files), form); input.value = ""; });
    zone.addEventListener("click", (e) => { if (e.target === zone) input.click(); });
    ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.add("over"); }));
    ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.remove("over"); }));
    zone.addEventListener("drop", (e) => uploadAll(Array.from(e.dataTransfer.files), form));
    document.addEventListener("paste", (e) => {
      const files = Array.from(e.clipboardData ? e.clipboardData.files : []);
      if (files.length) uploadAll(files, form);
    });
  }

  const textForm = document.getElementById("text-form");
  if (textForm) {
    textForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const content = textForm.elements.namedItem("content").value;
      const ext = textForm.elements.namedItem("language").value || "txt";
      const base = (textForm.elements.namedItem("name").value.trim() || "paste").replace(/\.[A-Za-z0-9]+$/, "");
      const type = ext === "md" ? "text/markdown" : ext === "json" ? "application/json" : "text/plain";
      const file = new File([content], `${base}.${ext}`, { type: `${type};charset=utf-8` });
      uploadOne(file, textForm);
    });
  }
})();
