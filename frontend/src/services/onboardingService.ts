// Onboarding state: the steps, how far the user is, and the onboarding conversation's id.

import type { OnboardingState } from '../api/types';

import { apiRequest } from './http';

export function getOnboarding(signal?: AbortSignal): Promise<OnboardingState> {
  return apiRequest<OnboardingState>('/onboarding', { signal });
}
