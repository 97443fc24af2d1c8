// A conversation's history from the server, a page at a time, into a ChatSession's window:
// the newest few messages when the conversation opens, older pages when the reader asks for them.

import type { MessagePage } from '../api/types';
import { Store } from '../lib/store';

import type { ChatSession } from './ChatSession';
import { toChatError } from './messages';

export interface PagerState {
  isLoading: boolean;
  isLoadingEarlier: boolean;
  error: string | null;
}

/** Where pages come from (ChatService.listMessages in the app). */
export interface MessageSource {
  listMessages: (
    conversationId: string,
    page: { before?: string | null; limit?: number },
    signal?: AbortSignal,
  ) => Promise<MessagePage>;
}

/**
 * How many messages opening a conversation fetches and renders: a screenful or two. Opening one
 * of 1,000 messages then costs about what opening one of 10 does (bench/ui, scenario u2); the
 * pages before it come at the session's historyLimit, as the reader scrolls up to them.
 */
export const FIRST_PAGE_LIMIT = 16;

export class MessagePager {
  private readonly store: Store<PagerState>;
  private loading: AbortController | null = null;

  constructor(
    private readonly session: ChatSession,
    private readonly source: MessageSource,
    private readonly firstPageLimit = FIRST_PAGE_LIMIT,
  ) {
    this.store = new Store<PagerState>({
      isLoading: session.conversationId !== null,
      isLoadingEarlier: false,
      error: null,
    });
  }

  readonly subscribe = (listener: () => void): (() => void) => this.store.subscribe(listener);

  readonly getSnapshot = (): PagerState => this.store.getSnapshot();

  /** Shows `conversationId` and loads its newest page, unless the session already shows it. */
  open(conversationId: string | null): void {
    if (!this.session.openConversation(conversationId)) return;
    this.cancel();
    if (conversationId === null) {
      this.store.update({ isLoading: false, isLoadingEarlier: false, error: null });
      return;
    }
    this.store.update({ isLoading: true, isLoadingEarlier: false, error: null });
    const abort = new AbortController();
    this.loading = abort;
    const limit = Math.min(this.firstPageLimit, this.session.historyLimit);
    this.source.listMessages(conversationId, { limit }, abort.signal).then(
      (page) => {
        if (abort.signal.aborted) return;
        this.session.showLatestPage(page);
        this.store.update({ isLoading: false, isLoadingEarlier: false, error: null });
      },
      (reason: unknown) => {
        if (abort.signal.aborted) return;
        this.store.update({
          isLoading: false,
          isLoadingEarlier: false,
          error: toChatError(reason).message,
        });
      },
    );
  }

  /** Stops the load of the newest page, if one is on its way. */
  cancel(): void {
    this.loading?.abort();
    this.loading = null;
  }

  /**
   * Loads the page before the oldest message shown. One at a time: asked again while a page is
   * on its way (a scroll to the top, then the button), or when there is nothing earlier, it does
   * nothing.
   */
  async loadEarlier(): Promise<void> {
    const id = this.session.conversationId;
    const before = this.session.oldestServerId;
    if (id === null || before === null) return;
    const { isLoading, isLoadingEarlier } = this.store.getSnapshot();
    if (isLoading || isLoadingEarlier || !this.session.getSnapshot().hasEarlier) return;
    this.store.update({ isLoadingEarlier: true, error: null });
    try {
      const page = await this.source.listMessages(id, {
        before,
        limit: this.session.historyLimit,
      });
      if (this.session.conversationId !== id) return;
      this.session.showEarlierPage(page);
      this.store.update({ isLoadingEarlier: false });
    } catch (reason) {
      this.store.update({ isLoadingEarlier: false, error: toChatError(reason).message });
    }
  }
}
