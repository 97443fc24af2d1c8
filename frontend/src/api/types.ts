// REST types of the ChatStream API (/api/v1), named for the app. Each is a schema generated
// from the server's OpenAPI (schema.d.ts, made from openapi.json by `npm run api:types`; never
// edit either by hand). The SSE event types are in events.ts.

import type { components, operations } from './schema';

type Schemas = components['schemas'];

/**
 * A request body that may leave out the fields the server defaults. The generated types make a
 * field with a default required, which is right for responses (the server always sends it).
 */
type WithDefaults<T, Defaulted extends keyof T> = Omit<T, Defaulted> & Partial<Pick<T, Defaulted>>;

export type User = Schemas['UserRead'];
export type RegisterRequest = Schemas['UserCreate'];
export type TokenResponse = Schemas['AccessToken'];
export type ServerConfig = Schemas['ClientConfig'];

export type OnboardingStep = Schemas['OnboardingStepRead'];
export type OnboardingProgress = Schemas['OnboardingProgress'];
export type OnboardingState = Schemas['OnboardingRead'];
export type OnboardingAnswer = Schemas['OnboardingAnswerRead'];
export type OnboardingAnswers = Schemas['OnboardingAnswers'];
export type OnboardingAnswersUpdate = Schemas['OnboardingAnswersUpdate'];
export type UserUpdate = Schemas['UserUpdate'];

export type StreamTokenResponse = Schemas['StreamToken'];
/** `send` (refused at a rate limit, like the message it is for) or `watch` (never refused). */
export type StreamTokenPurpose = NonNullable<
  NonNullable<operations['chat-issue_stream_token']['parameters']['query']>['purpose']
>;
export type Message = Schemas['MessageRead'];
export type MessageRole = Message['role'];
export type MessageStatus = Message['status'];
export type SendMessageRequest = WithDefaults<Schemas['ChatMessageCreate'], 'regenerate'>;
export type OnboardingMessageRequest = WithDefaults<
  Schemas['OnboardingMessageCreate'],
  'regenerate'
>;
/** A stored turn: both messages, and the progress on the onboarding chat. */
export type ChatTurn = Schemas['ChatTurnRead'];
/** The answer to a non-streaming send: the turn once its answer has ended. */
export type SendMessageResponse = ChatTurn;
/**
 * A message sent in a body (POST /chat/turns), any length up to MAX_MESSAGE_CHARS; its answer,
 * started, is read with GET /chat/messages/{id}/stream.
 */
export type StartTurnRequest = WithDefaults<Schemas['TurnCreate'], 'kind' | 'regenerate'>;
export type CancelResponse = Schemas['CancelResult'];
/** A new answer to the latest question (POST /chat/messages/{id}/regenerate). */
export type RegenerateRequest = Schemas['RegenerateCreate'];
/** A new version of the latest question (POST /chat/messages/{id}/edit). */
export type EditRequest = Schemas['EditCreate'];
/** Stops the answer to a send named by its client_message_id (POST /chat/cancel). */
export type CancelSendRequest = Schemas['SendCancel'];

export type ConversationKind = Schemas['ConversationKind'];
export type Conversation = Schemas['ConversationRead'];
export type ConversationList = Schemas['ConversationList'];
export type MessagePage = Schemas['MessagePage'];
/** PATCH /chat/conversations/{id}: a new title (trimmed by the server, 1..200 characters). */
export type ConversationUpdate = Schemas['ConversationUpdate'];
/** One message found by GET /chat/search; `snippet` is plain text, never markup. */
export type SearchHit = Schemas['SearchHitRead'];
export type SearchResults = Schemas['SearchResults'];

/** Every error's body, whatever its status (docs/api.md, "Errors"); each route lists its own. */
export type ApiErrorBody = Schemas['ErrorBody'];
