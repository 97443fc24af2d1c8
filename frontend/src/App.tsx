// Routes: sign-in and sign-up, onboarding, the chat (optionally one conversation), settings.

import { Navigate, Route, Routes } from 'react-router';

import { FullPageStatus } from './components/FullPageStatus';
import { RequireAuth } from './components/RequireAuth';
import { useAuth } from './hooks/useAuth';
import { ChatPage } from './pages/ChatPage';
import { homePath, LoginPage } from './pages/LoginPage';
import { OnboardingChatPage } from './pages/OnboardingChatPage';
import { RegisterPage } from './pages/RegisterPage';
import { SettingsPage } from './pages/SettingsPage';

function Home() {
  const { status, user } = useAuth();
  if (status === 'loading') return <FullPageStatus>Loading your account…</FullPageStatus>;
  if (status === 'anonymous' || user === null) return <Navigate to="/login" replace />;
  return <Navigate to={homePath(user.onboarding_completed)} replace />;
}

export function App() {
  return (
    <Routes>
      <Route path="/" element={<Home />} />
      <Route path="/login" element={<LoginPage />} />
      <Route path="/register" element={<RegisterPage />} />
      <Route
        path="/onboarding"
        element={
          <RequireAuth>
            <OnboardingChatPage />
          </RequireAuth>
        }
      />
      {/* One route with an optional id, so starting a conversation does not remount the page. */}
      <Route
        path="/chat/:conversationId?"
        element={
          <RequireAuth>
            <ChatPage />
          </RequireAuth>
        }
      />
      <Route
        path="/settings"
        element={
          <RequireAuth>
            <SettingsPage />
          </RequireAuth>
        }
      />
      <Route path="*" element={<Navigate to="/" replace />} />
    </Routes>
  );
}
