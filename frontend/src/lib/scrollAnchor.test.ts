// The reader's place kept across a prepend, and the guard on loading earlier pages by scrolling.

import { describe, expect, it } from 'vitest';

import {
  anchoredScrollTop,
  earlierLoadedAnnouncement,
  LOAD_EARLIER_THRESHOLD_PX,
  prependedCount,
  shouldLoadEarlier,
  topVisibleIndex,
} from './scrollAnchor';

describe('anchoredScrollTop', () => {
  it('scrolls down by exactly the height that went in above the anchor', () => {
    // The anchor was 40 px below the viewport's top; 1,200 px of messages pushed it to 1,240.
    expect(anchoredScrollTop(0, 40, 1240)).toBe(1200);
    expect(anchoredScrollTop(150, -20, 880)).toBe(1050);
  });

  it('ignores growth below the anchor (an answer streaming at the bottom)', () => {
    // Whatever the bottom did, only the anchor's own move counts.
    expect(anchoredScrollTop(300, 12, 12)).toBe(300);
  });

  it('leaves the position alone when the browser already kept the anchor in place', () => {
    expect(anchoredScrollTop(1500, 60, 60)).toBe(1500);
  });

  it('never scrolls above the top', () => {
    expect(anchoredScrollTop(10, 100, 20)).toBe(0);
  });
});

describe('topVisibleIndex', () => {
  const items = [
    { top: 0, bottom: 100 },
    { top: 100, bottom: 250 },
    { top: 250, bottom: 300 },
  ];

  it('finds the first message still showing below the viewport top', () => {
    expect(topVisibleIndex(items, 0)).toBe(0);
    expect(topVisibleIndex(items, 99)).toBe(0);
    expect(topVisibleIndex(items, 100)).toBe(1);
    expect(topVisibleIndex(items, 260)).toBe(2);
  });

  it('is -1 when every message is above the viewport', () => {
    expect(topVisibleIndex(items, 300)).toBe(-1);
    expect(topVisibleIndex([], 0)).toBe(-1);
  });
});

describe('prependedCount', () => {
  it('counts the messages put before the previous first one', () => {
    expect(prependedCount('m5', ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'])).toBe(4);
  });

  it('is 0 when the first message stayed first, or the list is another one', () => {
    expect(prependedCount('m1', ['m1', 'm2', 'm3'])).toBe(0);
    expect(prependedCount('m1', ['x1', 'x2'])).toBe(0);
    expect(prependedCount(null, ['m1'])).toBe(0);
  });
});

describe('shouldLoadEarlier', () => {
  const ready = {
    hasEarlier: true,
    isLoading: false,
    hasError: false,
    hasScrolledUp: true,
    scrollTop: 0,
  };

  it('loads when the reader scrolled up to the top and more is on the server', () => {
    expect(shouldLoadEarlier(ready)).toBe(true);
    expect(shouldLoadEarlier({ ...ready, scrollTop: LOAD_EARLIER_THRESHOLD_PX })).toBe(true);
  });

  it('waits until the reader is near the top', () => {
    expect(shouldLoadEarlier({ ...ready, scrollTop: LOAD_EARLIER_THRESHOLD_PX + 1 })).toBe(false);
  });

  it('never loads while a page is on its way', () => {
    expect(shouldLoadEarlier({ ...ready, isLoading: true })).toBe(false);
  });

  it('stops when the server has no more', () => {
    expect(shouldLoadEarlier({ ...ready, hasEarlier: false })).toBe(false);
  });

  it('leaves a failed load to the button', () => {
    expect(shouldLoadEarlier({ ...ready, hasError: true })).toBe(false);
  });

  it('does not load for a view that follows the answer at the bottom', () => {
    // A short conversation is at its top and bottom at once: the reader did not ask.
    expect(shouldLoadEarlier({ ...ready, hasScrolledUp: false })).toBe(false);
  });
});

describe('earlierLoadedAnnouncement', () => {
  it('says how many messages came, and when the start is reached', () => {
    expect(earlierLoadedAnnouncement(50, true)).toBe('Loaded 50 earlier messages.');
    expect(earlierLoadedAnnouncement(1, false)).toBe(
      'Loaded 1 earlier message: the start of the conversation.',
    );
  });
});
