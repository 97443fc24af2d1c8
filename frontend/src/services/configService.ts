// The per-user configuration the server decides (streaming feature flag, message limit).

import type { ServerConfig } from '../api/types';

import { apiRequest } from './http';

export function getConfig(signal?: AbortSignal): Promise<ServerConfig> {
  return apiRequest<ServerConfig>('/config', { signal });
}
