// Vitest set-up: jest-dom matchers, MSW for REST, the EventSource and BroadcastChannel doubles,
// a clean slate per test.

import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest';

import { discardFrames } from '../lib/frame';

import { FakeBroadcastChannel } from './FakeBroadcastChannel';
import { FakeEventSource } from './FakeEventSource';
import { server } from './server';

beforeAll(() => {
  server.listen({ onUnhandledRequest: 'error' });
});

beforeEach(() => {
  FakeEventSource.reset();
  vi.stubGlobal('EventSource', FakeEventSource);
  FakeBroadcastChannel.reset();
  vi.stubGlobal('BroadcastChannel', FakeBroadcastChannel);
  window.localStorage.clear();
});

afterEach(() => {
  cleanup();
  discardFrames();
  server.resetHandlers();
  vi.unstubAllGlobals();
});

afterAll(() => {
  server.close();
});
