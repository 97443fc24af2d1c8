// Onboarding state (steps, progress, its conversation), kept current from each answer.

import { useCallback, useEffect, useState } from 'react';

import type { OnboardingProgress, OnboardingState } from '../api/types';
import { ApiError } from '../services/http';
import { getOnboarding } from '../services/onboardingService';

export interface UseOnboarding {
  onboarding: OnboardingState | null;
  error: string | null;
  applyProgress: (progress: OnboardingProgress) => void;
}

export function useOnboarding(): UseOnboarding {
  const [onboarding, setOnboarding] = useState<OnboardingState | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    getOnboarding(abort.signal).then(setOnboarding, (reason: unknown) => {
      if (abort.signal.aborted) return;
      setError(reason instanceof ApiError ? reason.message : 'Could not load onboarding.');
    });
    return () => {
      abort.abort();
    };
  }, []);

  const applyProgress = useCallback((progress: OnboardingProgress) => {
    setOnboarding((current) => {
      if (current === null) return current;
      const steps = current.steps.length;
      const step = Math.min(steps, Math.round(progress.progress * steps));
      return { ...current, ...progress, current_step: step };
    });
  }, []);

  return { onboarding, error, applyProgress };
}
