// The settings form: the display name and each onboarding answer, labelled by its question.
// Mistakes are found before anything is sent and shown beside their field (described by it,
// so a screen reader reads them with the field); focus goes to the first one, and what the
// user typed stays as it was. A save the server refuses is told in an alert, the form kept.

import { useId, useState } from 'react';
import type { SyntheticEvent } from 'react';

import type { OnboardingAnswer } from '../api/types';
import {
  ANSWER_MAX_CHARS,
  DISPLAY_NAME_MAX_CHARS,
  hasErrors,
  validateProfile,
} from '../lib/profileForm';
import type { ProfileErrors, ProfileValues } from '../lib/profileForm';

import styles from './SettingsForm.module.css';

export interface SettingsFormProps {
  displayName: string;
  answers: readonly OnboardingAnswer[];
  /** Saves the values; rejects with an Error whose message is shown. */
  onSave: (values: ProfileValues) => Promise<void>;
}

const NO_ERRORS: ProfileErrors = { answers: {} };

function initialValues(displayName: string, answers: readonly OnboardingAnswer[]): ProfileValues {
  return {
    displayName,
    answers: Object.fromEntries(answers.map((a) => [a.key, a.answer ?? ''])),
  };
}

export function SettingsForm({ displayName, answers, onSave }: SettingsFormProps) {
  const id = useId();
  const [values, setValues] = useState(() => initialValues(displayName, answers));
  const [errors, setErrors] = useState<ProfileErrors>(NO_ERRORS);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [saving, setSaving] = useState(false);

  const fieldId = (key: string) => `${id}-${key}`;
  const errorId = (key: string) => `${id}-${key}-error`;

  const onSubmit = async (event: SyntheticEvent) => {
    event.preventDefault();
    if (saving) return;
    const found = validateProfile(values, answers);
    setErrors(found);
    setSaved(false);
    setSaveError(null);
    if (hasErrors(found)) {
      // The first field in error, in the order the form shows them.
      const first = found.displayName
        ? 'display-name'
        : answers.find(({ key }) => found.answers[key] !== undefined)?.key;
      if (first !== undefined) document.getElementById(fieldId(first))?.focus();
      return;
    }
    setSaving(true);
    try {
      await onSave(values);
      setSaved(true);
    } catch (reason) {
      setSaveError(reason instanceof Error ? reason.message : 'Could not save. Please try again.');
    } finally {
      setSaving(false);
    }
  };

  const edit = (change: (v: ProfileValues) => ProfileValues) => {
    setValues(change);
    setSaved(false);
  };

  const nameError = errors.displayName;
  return (
    <form className={styles.form} onSubmit={(e) => void onSubmit(e)} noValidate>
      <section className={styles.section} aria-labelledby={`${id}-profile`}>
        <h2 id={`${id}-profile`} className={styles.sectionTitle}>
          Profile
        </h2>
        <div className={styles.field}>
          <label htmlFor={fieldId('display-name')}>Display name</label>
          <input
            id={fieldId('display-name')}
            name="display_name"
            autoComplete="name"
            value={values.displayName}
            aria-invalid={nameError !== undefined}
            aria-describedby={`${id}-name-hint${nameError ? ` ${errorId('display-name')}` : ''}`}
            onChange={(e) => {
              const text = e.target.value;
              edit((v) => ({ ...v, displayName: text }));
            }}
          />
          <p id={`${id}-name-hint`} className={styles.hint}>
            Shown in the app, at most {DISPLAY_NAME_MAX_CHARS} characters. The assistant calls you
            by your answer to its first question below, or by this name when that is empty.
          </p>
          {nameError && (
            <p id={errorId('display-name')} className={styles.error}>
              {nameError}
            </p>
          )}
        </div>
      </section>

      <section className={styles.section} aria-labelledby={`${id}-answers`}>
        <h2 id={`${id}-answers`} className={styles.sectionTitle}>
          What the assistant knows about you
        </h2>
        <p className={styles.intro}>
          Your onboarding answers. The assistant reads them before every answer it writes.
        </p>
        {answers.map(({ key, question }) => {
          const error = errors.answers[key];
          return (
            <div key={key} className={styles.field}>
              <label htmlFor={fieldId(key)}>{question}</label>
              <textarea
                id={fieldId(key)}
                name={key}
                rows={2}
                value={values.answers[key] ?? ''}
                aria-invalid={error !== undefined}
                aria-describedby={error ? errorId(key) : undefined}
                onChange={(e) => {
                  const text = e.target.value;
                  edit((v) => ({ ...v, answers: { ...v.answers, [key]: text } }));
                }}
              />
              {error && (
                <p id={errorId(key)} className={styles.error}>
                  {error}
                </p>
              )}
            </div>
          );
        })}
        <p className={styles.hint}>Each answer holds at most {ANSWER_MAX_CHARS} characters.</p>
      </section>

      {saveError !== null && (
        <p className={styles.saveError} role="alert">
          {saveError}
        </p>
      )}
      <div className={styles.actions}>
        <button type="submit" className={styles.save} disabled={saving}>
          {saving ? 'Saving…' : 'Save changes'}
        </button>
        <p className={styles.status} role="status">
          {saved ? 'Saved. Your next answer uses these.' : ''}
        </p>
      </div>
    </form>
  );
}
