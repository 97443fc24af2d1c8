// Earlier messages put above the ones on screen without moving the reader: the message at the
// top of the view is measured before the page comes and put back at the same place after it,
// before paint. Scrolling near the top loads the next page by itself; a polite announcement
// says how many came. The arithmetic is in lib/scrollAnchor.ts.

import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';

import {
  anchoredScrollTop,
  earlierLoadedAnnouncement,
  prependedCount,
  shouldLoadEarlier,
  topVisibleIndex,
} from '../lib/scrollAnchor';

import { BOTTOM_SLACK_PX } from './useStickToBottom';

/** Each message element in the scroller carries it (MessageList), so the top one can be found. */
const MESSAGE_ID_ATTRIBUTE = 'data-message-id';

export interface EarlierMessagesOptions {
  scrollerRef: React.RefObject<HTMLElement | null>;
  /** The ids of the messages shown, oldest first. */
  messageIds: string[];
  hasEarlier: boolean;
  isLoading: boolean;
  isLoadingEarlier: boolean;
  hasError: boolean;
  onLoadEarlier: (() => void) | undefined;
}

export interface EarlierMessages {
  /** For the button: loads the next earlier page, keeping the reader's place. */
  loadEarlier: () => void;
  /** For the scroller's scroll events: near the top, loads the next earlier page. */
  onScroll: () => void;
  /** For a polite live region: how many earlier messages the last load put in. */
  announcement: string;
  /** For the "Load earlier messages" button. */
  buttonRef: React.RefObject<HTMLButtonElement | null>;
}

interface Anchor {
  element: Element;
  /** Its top relative to the scroller's viewport when measured. */
  top: number;
}

function measureAnchor(scroller: HTMLElement): Anchor | null {
  const elements = Array.from(scroller.querySelectorAll(`[${MESSAGE_ID_ATTRIBUTE}]`));
  const viewTop = scroller.getBoundingClientRect().top;
  const items = elements.map((element) => {
    const rect = element.getBoundingClientRect();
    return { top: rect.top - viewTop, bottom: rect.bottom - viewTop };
  });
  const index = topVisibleIndex(items, 0);
  const element = elements[index];
  const item = items[index];
  return element === undefined || item === undefined ? null : { element, top: item.top };
}

export function useEarlierMessages({
  scrollerRef,
  messageIds,
  hasEarlier,
  isLoading,
  isLoadingEarlier,
  hasError,
  onLoadEarlier,
}: EarlierMessagesOptions): EarlierMessages {
  const anchorRef = useRef<Anchor | null>(null);
  const buttonRef = useRef<HTMLButtonElement | null>(null);
  /** The button had focus when the load began: if it goes (no more pages), focus must not. */
  const buttonFocusedRef = useRef(false);
  const requestedRef = useRef(false);
  const previousFirstIdRef = useRef<string | null>(null);
  const [announcement, setAnnouncement] = useState('');
  // The same words twice in a row would not be read again: every other one ends differently.
  const announcedRef = useRef(0);

  const capture = useCallback(() => {
    const scroller = scrollerRef.current;
    anchorRef.current = scroller === null ? null : measureAnchor(scroller);
  }, [scrollerRef]);

  const loadEarlier = useCallback(() => {
    if (onLoadEarlier === undefined || isLoadingEarlier) return;
    capture();
    requestedRef.current = true;
    buttonFocusedRef.current =
      buttonRef.current !== null && document.activeElement === buttonRef.current;
    onLoadEarlier();
  }, [capture, isLoadingEarlier, onLoadEarlier]);

  const loadIfAtTop = useCallback(() => {
    const scroller = scrollerRef.current;
    if (scroller === null || onLoadEarlier === undefined) return;
    const load = shouldLoadEarlier({
      hasEarlier,
      isLoading: isLoading || isLoadingEarlier,
      hasError,
      // Measured now, not taken from the last render: a single jump to the top (Home, or a
      // drag of the scrollbar) is one scroll event, the one that leaves the bottom.
      hasScrolledUp:
        scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight > BOTTOM_SLACK_PX,
      scrollTop: scroller.scrollTop,
    });
    if (load) loadEarlier();
  }, [scrollerRef, onLoadEarlier, hasEarlier, isLoading, isLoadingEarlier, hasError, loadEarlier]);

  const onScroll = useCallback(() => {
    // While a page is on its way the reader may scroll on: the place to keep is the latest.
    if (isLoadingEarlier && requestedRef.current) capture();
    else loadIfAtTop();
  }, [capture, isLoadingEarlier, loadIfAtTop]);

  const firstId = messageIds[0] ?? null;
  useLayoutEffect(() => {
    const scroller = scrollerRef.current;
    const count = prependedCount(previousFirstIdRef.current, messageIds);
    previousFirstIdRef.current = firstId;
    const anchor = anchorRef.current;
    if (count > 0 && requestedRef.current) {
      if (scroller !== null && anchor !== null && anchor.element.isConnected) {
        const after = anchor.element.getBoundingClientRect().top;
        const viewTop = scroller.getBoundingClientRect().top;
        scroller.scrollTop = anchoredScrollTop(scroller.scrollTop, anchor.top, after - viewTop);
      }
      // The last page came and took the button with it: focus goes to the messages, where the
      // keyboard scrolls on, not to the page's start.
      const focusLost = document.activeElement === null || document.activeElement === document.body;
      if (!hasEarlier && buttonFocusedRef.current && focusLost) {
        scroller?.focus({ preventScroll: true });
      }
      announcedRef.current += 1;
      const words = earlierLoadedAnnouncement(count, hasEarlier);
      setAnnouncement(announcedRef.current % 2 === 0 ? `${words}\u00a0` : words);
    }
    if (isLoadingEarlier && requestedRef.current) {
      capture(); // new text streamed in at the bottom: measure again, before the page comes
    } else {
      anchorRef.current = null;
      requestedRef.current = false;
    }
  }, [scrollerRef, messageIds, firstId, hasEarlier, isLoadingEarlier, capture]);

  // A page came and the reader is still at the top (a short page): the next one.
  useEffect(() => {
    if (!isLoadingEarlier) loadIfAtTop();
    // Only when a load ends, not on every change of what loadIfAtTop reads.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [isLoadingEarlier]);

  return { loadEarlier, onScroll, announcement, buttonRef };
}
