// What the user can edit about themselves: the display name and the onboarding answers.

import type { OnboardingAnswers, OnboardingAnswersUpdate, User, UserUpdate } from '../api/types';

import { apiRequest } from './http';

export function updateProfile(update: UserUpdate): Promise<User> {
  return apiRequest<User>('/users/me', { method: 'PATCH', json: update });
}

export function getOnboardingAnswers(signal?: AbortSignal): Promise<OnboardingAnswers> {
  return apiRequest<OnboardingAnswers>('/onboarding/answers', { signal });
}

/** The answers become exactly those given: a question left out has no answer afterwards. */
export function saveOnboardingAnswers(update: OnboardingAnswersUpdate): Promise<OnboardingAnswers> {
  return apiRequest<OnboardingAnswers>('/onboarding/answers', { method: 'PUT', json: update });
}
