// REST types of the ChatStream API (/api/v1), written by hand to mirror DESIGN.md §2 and the
// back end's schemas; replace with types generated from the server's OpenAPI when it settles.

export type MessageRole = 'user' | 'assistant';

export type MessageStatus = 'streaming' | 'complete' | 'interrupted' | 'cancelled' | 'error';

export interface User {
  id: string;
  email: string;
  display_name: string | null;
  created_at: string;
  onboarding_completed: boolean;
}

export interface RegisterRequest {
  email: string;
  password: string;
  display_name?: string;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
}

export interface ServerConfig {
  streaming_enabled: boolean;
  max_message_chars: number;
  stream_token_expire_seconds: number;
  stream_ping_interval_s: number;
}

export interface OnboardingStep {
  key: string;
  question: string;
}

export interface OnboardingProgress {
  progress: number;
  completed: boolean;
}

export interface OnboardingState extends OnboardingProgress {
  steps: OnboardingStep[];
  current_step: number;
  conversation_id: string;
}

export interface StreamTokenResponse {
  token: string;
  expires_in: number;
}

export interface Message {
  id: string;
  conversation_id: string;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  error_code: string | null;
  client_message_id: string | null;
  created_at: string;
  completed_at: string | null;
}

export interface SendMessageRequest {
  message: string;
  conversation_id?: string | null;
  client_message_id: string;
  /** Repeat of a send whose answer failed: the server answers the same question anew. */
  regenerate?: boolean;
}

export interface SendMessageResponse {
  conversation_id: string;
  user_message: Message;
  assistant_message: Message;
  onboarding: OnboardingProgress | null;
}

export interface CancelResponse {
  message_id: string;
  status: MessageStatus;
}

export type ConversationKind = 'chat' | 'onboarding';

export interface Conversation {
  id: string;
  kind: ConversationKind;
  title: string | null;
  created_at: string;
  updated_at: string;
}

export interface ConversationList {
  items: Conversation[];
}

export interface MessagePage {
  items: Message[];
  has_more: boolean;
}

export interface ApiErrorBody {
  error: { code: string; message: string };
}
