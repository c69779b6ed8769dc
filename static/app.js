// zipshort: small progressive enhancements for the server-rendered pages (no inline scripts: strict CSP).
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(text); return true; } catch (e) { /* fall through */ }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "skip";
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
  area.remove();
  return ok;
}

function flashButton(button, label) {
  const before = button.dataset.label || button.textContent;
  button.dataset.label = before;
  button.textContent = label;
  setTimeout(() => { button.textContent = before; }, 1500);
}

document.addEventListener("click", async (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    event.preventDefault();
    const target = copy.dataset.copyFrom ? document.getElementById(copy.dataset.copyFrom) : null;
    const text = target ? (target.value || target.textContent) : copy.dataset.copy;
    flashButton(copy, (await copyText(text)) ? "Copied" : "Copy failed");
    return;
  }
  const reveal = event.target.closest("[data-reveal]");
  if (reveal) {
    const input = document.getElementById(reveal.dataset.reveal);
    const hidden = input.type === "password";
    input.type = hidden ? "text" : "password";
    reveal.textContent = hidden ? "Hide" : "Show";
    reveal.setAttribute("aria-pressed", String(hidden));
  }
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  const message = (event.submitter && event.submitter.dataset.confirm) || form.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (all) {
    document.querySelectorAll(`input[name="${all.dataset.selectAll}"]`).forEach((box) => { box.checked = all.checked; });
  }
  if (event.target.matches("[data-autosubmit]")) event.target.form.requestSubmit();
});

// A thumbnail that does not load gives way to the file type's placeholder beside it: never a broken image.
function thumbnailFailed(img) {
  const placeholder = img.nextElementSibling;
  if (placeholder && placeholder.classList.contains("placeholder")) placeholder.hidden = false;
  img.remove();
}

document.addEventListener("error", (event) => {
  if (event.target instanceof HTMLImageElement && event.target.hasAttribute("data-fallback")) thumbnailFailed(event.target);
}, true);

document.addEventListener("DOMContentLoaded", () => {
  // Images that failed before this script ran (it is deferred) fired their error event unheard.
  document.querySelectorAll("img[data-fallback]").forEach((img) => {
    if (img.complete && img.naturalWidth === 0) thumbnailFailed(img);
  });
  document.querySelectorAll("time[datetime]").forEach((el) => {
    const when = new Date(el.getAttribute("datetime"));
    if (!Number.isNaN(when.getTime())) {
      el.title = el.getAttribute("datetime");
      el.textContent = when.toLocaleString();
    }
  });
});

window.zipshort = { csrfToken, copyText, flashButton };
