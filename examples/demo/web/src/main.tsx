import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { SessionProvider } from '@latchkey/client/react';
import { App } from './App.js';
import { sessionClient } from './session.js';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SessionProvider client={sessionClient}>
      <App />
    </SessionProvider>
  </StrictMode>,
);
