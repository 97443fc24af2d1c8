// Puts text on the clipboard: the async Clipboard API where the page may use it, else the old
// copy command on a hidden text area (http on another host, older browsers, denied permission).

/** Copies `text`; resolves true when it reached the clipboard, false when nothing could. */
export async function copyText(text: string): Promise<boolean> {
  // Feature test: absent outside secure contexts, whatever the types say.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Refused (permission, focus): try the fallback below.
    }
  }
  return copyWithTextArea(text);
}

function copyWithTextArea(text: string): boolean {
  const active = document.activeElement;
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.setAttribute('aria-hidden', 'true');
  area.className = 'sr-only';
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    // Deprecated, but still the only way when the Clipboard API is missing.
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  area.remove();
  // The button that asked for the copy keeps focus.
  if (active instanceof HTMLElement) active.focus();
  return copied;
}
