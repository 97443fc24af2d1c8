// How far along onboarding the user is: a native progress bar with a readable step count.

import styles from './OnboardingProgress.module.css';

export interface OnboardingProgressProps {
  progress: number;
  step: number;
  steps: number;
}

export function OnboardingProgress({ progress, step, steps }: OnboardingProgressProps) {
  const clamped = Math.max(0, Math.min(1, progress));
  const percent = Math.round(clamped * 100);
  const shown = Math.min(steps, step + (clamped < 1 ? 1 : 0));
  const text = clamped >= 1 ? 'All done' : `Step ${Math.max(1, shown)} of ${steps}`;
  return (
    <div className={styles.progress}>
      <div className={styles.labels}>
        <span className={styles.title}>Getting to know you</span>
        <span className={styles.step}>{text}</span>
      </div>
      <progress
        className={styles.bar}
        max={100}
        value={percent}
        aria-label="Onboarding progress"
        aria-valuetext={`${percent}% — ${text}`}
      />
    </div>
  );
}
