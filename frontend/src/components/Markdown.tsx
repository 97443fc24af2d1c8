// Assistant text as markdown. Finished blocks are rendered once (memo + cache); while the
// answer streams only its last block is parsed again on each update, completed as it is
// becoming (remend) so half-made markdown never shows. An answer that stopped part way ends
// with the same completion. Code blocks (top level or in a list) are CodeBlock components
// (label, Copy, highlighting); the rest is sanitised HTML.

import { memo, useMemo } from 'react';

import type { MarkdownPart } from '../lib/markdown';
import { renderFinishedBlock, renderStreamingBlock, splitMarkdownBlocks } from '../lib/markdown';
import { remend } from '../lib/remend';

import { CodeBlock } from './CodeBlock';
import styles from './Markdown.module.css';

function Parts({ parts, isStreaming }: { parts: MarkdownPart[]; isStreaming: boolean }) {
  const last = parts.length - 1;
  return parts.map((part, index) => {
    if (part.kind === 'code') {
      return (
        <CodeBlock key={index} code={part.code} language={part.language} isOpen={part.isOpen} />
      );
    }
    if (part.kind === 'list') {
      const List = part.ordered ? 'ol' : 'ul';
      return (
        <List key={index} start={part.ordered && part.start !== 1 ? Number(part.start) : undefined}>
          {part.items.map((item, itemIndex) => (
            <li key={itemIndex}>
              <Parts parts={item} isStreaming={false} />
            </li>
          ))}
        </List>
      );
    }
    return (
      <div
        key={index}
        className={styles.block}
        // The text still being written flows into the typing caret (MessageList.module.css).
        data-streaming-block={isStreaming && index === last ? '' : undefined}
        dangerouslySetInnerHTML={{ __html: part.html }}
      />
    );
  });
}

const FinishedBlock = memo(function FinishedBlock({ text }: { text: string }) {
  const parts = useMemo(() => renderFinishedBlock(text), [text]);
  return (
    <div className={styles.block}>
      <Parts parts={parts} isStreaming={false} />
    </div>
  );
});

const StreamingBlock = memo(function StreamingBlock({ text }: { text: string }) {
  const parts = useMemo(() => renderStreamingBlock(text), [text]);
  return (
    <div className={styles.block}>
      <Parts parts={parts} isStreaming />
    </div>
  );
});

export const Markdown = memo(function Markdown({
  text,
  isStreaming,
  isComplete = true,
}: {
  text: string;
  isStreaming: boolean;
  /** False for an answer stopped, failed or interrupted part way: its end may be cut off. */
  isComplete?: boolean;
}) {
  const blocks = useMemo(() => splitMarkdownBlocks(text), [text]);
  const last = blocks.length - 1;
  return (
    <div
      className={styles.markdown}
      data-streaming={isStreaming ? '' : undefined}
      data-testid="message-text"
    >
      {blocks.map((block, index) => {
        if (index !== last) return <FinishedBlock key={index} text={block} />;
        if (isStreaming) return <StreamingBlock key={index} text={block} />;
        return <FinishedBlock key={index} text={isComplete ? block : remend(block)} />;
      })}
    </div>
  );
});
