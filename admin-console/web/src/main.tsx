import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createSessionClient } from '@latchkey/client';
import { SessionProvider } from '@latchkey/client/react';
import { attachLive } from '@latchkey/client/live';
import { createAdminApi } from './admin-api.js';
import { App } from './App.js';
import { loadConfig } from './config.js';
import './styles.css';

const root = createRoot(document.getElementById('root')!);

loadConfig()
  .then((config) => {
    // The operator signs in like any user: token mode, against the application's BFF. The token goes to this origin only.
    const client = createSessionClient({ bffUrl: config.bffUrl, apiOrigins: [window.location.origin] });
    // The operator's own device session ended elsewhere (revoked, theft): sign out here at once.
    attachLive(client);
    const api = createAdminApi(client, config.adminUrl);
    root.render(
      <StrictMode>
        <SessionProvider client={client}>
          <App api={api} feedIntervalMs={config.feedIntervalMs} />
        </SessionProvider>
      </StrictMode>,
    );
  })
  .catch((error: unknown) => {
    root.render(
      <p className="card form-error" role="alert">
        {error instanceof Error ? error.message : String(error)}
      </p>,
    );
  });
