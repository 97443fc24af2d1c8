// Edit & resend, in place of the question's bubble: the text to change, Send to ask it again
// (Enter), Cancel to leave it as it was (Esc). Focus goes into the box when it opens.

import { useEffect, useId, useRef, useState } from 'react';
import type { KeyboardEvent, SyntheticEvent } from 'react';

import styles from './MessageEditor.module.css';

export interface MessageEditorProps {
  initialText: string;
  /** Sends the edited text as a new version of the question. */
  onSend: (text: string) => void;
  onCancel: () => void;
}

export function MessageEditor({ initialText, onSend, onCancel }: MessageEditorProps) {
  const [text, setText] = useState(initialText);
  const box = useRef<HTMLTextAreaElement>(null);
  const hintId = useId();
  const isUnchanged = text.trim() === '' || text === initialText;

  useEffect(() => {
    const element = box.current;
    if (element === null) return;
    element.focus();
    element.setSelectionRange(element.value.length, element.value.length);
  }, []);

  function submit(event?: SyntheticEvent) {
    event?.preventDefault();
    if (!isUnchanged) onSend(text);
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation(); // Esc here cancels the edit, nothing else (no Stop)
      onCancel();
    } else if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      submit(event);
    }
  }

  return (
    <form className={styles.editor} onSubmit={submit} data-testid="message-editor">
      <textarea
        ref={box}
        className={styles.box}
        aria-label="Edit your message"
        aria-describedby={hintId}
        value={text}
        rows={Math.min(8, Math.max(2, text.split('\n').length))}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <p id={hintId} className={styles.hint}>
        Enter sends, Shift+Enter adds a line, Esc cancels. The earlier version is kept.
      </p>
      <div className={styles.buttons}>
        <button type="button" className={styles.cancel} onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className={styles.send} aria-disabled={isUnchanged}>
          Send
        </button>
      </div>
    </form>
  );
}
