/** What the console's router tells the page (`config.json`, next to index.html). */
export interface ConsoleConfig {
  bffUrl: string;
  adminUrl: string;
  feedIntervalMs: number;
}

/** Reads config.json; the admin router must be on this origin (the operator's token goes nowhere else). */
export async function loadConfig(): Promise<ConsoleConfig> {
  const res = await fetch('./config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`The console's configuration could not be read (HTTP ${res.status}).`);
  const config = (await res.json()) as ConsoleConfig;
  const admin = new URL(config.adminUrl, window.location.href);
  if (admin.origin !== window.location.origin) throw new Error('The admin router must be on the same origin as the console.');
  return { ...config, adminUrl: admin.pathname.replace(/\/+$/, '') };
}
