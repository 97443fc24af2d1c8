// Onboarding state: the steps, how far the user is, and the onboarding conversation's id; Skip.

import type { OnboardingState } from '../api/types';

import { apiRequest } from './http';

export function getOnboarding(signal?: AbortSignal): Promise<OnboardingState> {
  return apiRequest<OnboardingState>('/onboarding', { signal });
}

/** Marks the onboarding done, keeping the answers so far (idempotent on the server). */
export function skipOnboarding(): Promise<OnboardingState> {
  return apiRequest<OnboardingState>('/onboarding/skip', { method: 'POST' });
}
