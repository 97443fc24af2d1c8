// Keeps a scroll container pinned to its newest content while the user is at the bottom,
// and lets go the moment they scroll up by any means (wheel, trackpad, keyboard, scrollbar):
// it watches scroll positions, not input devices.

import { useCallback, useEffect, useRef, useState } from 'react';

import { scheduleFrame } from '../lib/frame';

/** Within this many pixels of the end counts as "at the bottom" (sub-pixel rounding). */
export const BOTTOM_SLACK_PX = 4;
/** Content changes are coalesced: the view follows at most once per this interval. */
export const SCROLL_DEBOUNCE_MS = 100;

function prefersReducedMotion(): boolean {
  // jsdom and some embedded browsers have no matchMedia.
  if (typeof window.matchMedia !== 'function') return false;
  return window.matchMedia('(prefers-reduced-motion: reduce)').matches;
}

export interface StickToBottom<T extends HTMLElement> {
  ref: React.RefObject<T | null>;
  /** False once the user has scrolled up: show a "Jump to latest" control. */
  isAtBottom: boolean;
  onScroll: () => void;
  jumpToLatest: () => void;
}

/**
 * @param contentKey changes whenever the content grows (new message, new text).
 * @param pinKey changes when the view must follow again regardless (the user sent a message).
 */
export function useStickToBottom<T extends HTMLElement>(
  contentKey: unknown,
  pinKey: unknown,
): StickToBottom<T> {
  const ref = useRef<T | null>(null);
  const stickRef = useRef(true);
  const lastTopRef = useRef(0);
  const timerRef = useRef<ReturnType<typeof setTimeout> | null>(null);
  const cancelFrameRef = useRef<(() => void) | null>(null);
  const [isAtBottom, setIsAtBottom] = useState(true);
  /** What isAtBottom was last set to (read in event handlers without a render). */
  const shownAtBottomRef = useRef(true);

  const scrollNow = useCallback((smooth: boolean) => {
    const el = ref.current;
    if (el === null) return;
    const top = el.scrollHeight - el.clientHeight;
    if (smooth && typeof el.scrollTo === 'function') {
      el.scrollTo({ top, behavior: 'smooth' });
    } else {
      el.scrollTop = top;
    }
    lastTopRef.current = el.scrollTop;
  }, []);

  const schedule = useCallback(() => {
    if (timerRef.current !== null) return;
    timerRef.current = setTimeout(() => {
      timerRef.current = null;
      cancelFrameRef.current = scheduleFrame(() => {
        cancelFrameRef.current = null;
        // The user may have scrolled up while this was pending: never drag them back.
        if (stickRef.current) scrollNow(false);
      });
    }, SCROLL_DEBOUNCE_MS);
  }, [scrollNow]);

  const onScroll = useCallback(() => {
    const el = ref.current;
    if (el === null) return;
    const top = el.scrollTop;
    const distance = el.scrollHeight - top - el.clientHeight;
    if (distance <= BOTTOM_SLACK_PX) {
      stickRef.current = true;
    } else if (top < lastTopRef.current) {
      stickRef.current = false; // moved up: the user is reading
    }
    lastTopRef.current = top;
    // The view's own following scrolls fire here every 100 ms while an answer streams: only a
    // change re-renders, or each would be a React commit of its own on top of the text's.
    if (shownAtBottomRef.current !== stickRef.current) {
      shownAtBottomRef.current = stickRef.current;
      setIsAtBottom(stickRef.current);
    }
  }, []);

  const jumpToLatest = useCallback(() => {
    stickRef.current = true;
    shownAtBottomRef.current = true;
    setIsAtBottom(true);
    scrollNow(!prefersReducedMotion());
  }, [scrollNow]);

  useEffect(() => {
    if (stickRef.current) schedule();
  }, [contentKey, schedule]);

  useEffect(() => {
    stickRef.current = true;
    // Set only when it changes: even an update to the same value can cost React a render and
    // a commit of its own (when it cannot tell at once that nothing changed).
    if (!shownAtBottomRef.current) {
      shownAtBottomRef.current = true;
      setIsAtBottom(true);
    }
    schedule();
  }, [pinKey, schedule]);

  useEffect(
    () => () => {
      if (timerRef.current !== null) clearTimeout(timerRef.current);
      cancelFrameRef.current?.();
      timerRef.current = null;
      cancelFrameRef.current = null;
    },
    [],
  );

  return { ref, isAtBottom, onScroll, jumpToLatest };
}
