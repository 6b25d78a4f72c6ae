// The console's copy buttons (no inline script: the CSP allows the console's own files only).
// A button with data-copy names the field whose value it copies; data-copied is what it says
// afterwards. Without the clipboard (an insecure origin), the field is selected for the user.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  const field = button && document.querySelector(button.dataset.copy);
  if (!field) {
    return;
  }
  field.select();
  if (navigator.clipboard) {
    navigator.clipboard.writeText(field.value).then(() => {
      button.textContent = button.dataset.copied;
    });
  }
});
