// Assistant text as markdown. Finished blocks are rendered once (memo + cache); while the
// answer streams only its last block is parsed again on each update.

import { memo, useMemo } from 'react';

import { renderFinishedBlock, renderStreamingBlock, splitMarkdownBlocks } from '../lib/markdown';

import styles from './Markdown.module.css';

const FinishedBlock = memo(function FinishedBlock({ text }: { text: string }) {
  const html = useMemo(() => renderFinishedBlock(text), [text]);
  return <div className={styles.block} dangerouslySetInnerHTML={{ __html: html }} />;
});

const StreamingBlock = memo(function StreamingBlock({ text }: { text: string }) {
  const html = useMemo(() => renderStreamingBlock(text), [text]);
  return (
    <div
      className={styles.block}
      data-streaming-block=""
      dangerouslySetInnerHTML={{ __html: html }}
    />
  );
});

export const Markdown = memo(function Markdown({
  text,
  isStreaming,
}: {
  text: string;
  isStreaming: boolean;
}) {
  const blocks = useMemo(() => splitMarkdownBlocks(text), [text]);
  const last = blocks.length - 1;
  return (
    <div
      className={styles.markdown}
      data-streaming={isStreaming ? '' : undefined}
      data-testid="message-text"
    >
      {blocks.map((block, index) =>
        isStreaming && index === last ? (
          <StreamingBlock key={index} text={block} />
        ) : (
          <FinishedBlock key={index} text={block} />
        ),
      )}
    </div>
  );
});
