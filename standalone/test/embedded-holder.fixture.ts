// Run in its own process by embedded-database.spec.ts: starts the embedded Postgres on argv[2] and prints
// "up <postmaster pid> <url>". Then it either holds it until killed, or (argv[3] = "exit") exits with code 3
// without stopping it, as a fatal error would.
import { startEmbeddedPostgres } from '@chorus/database';

startEmbeddedPostgres(process.argv[2]).then(
  (server) => {
    console.log(`up ${server.pid} ${server.url}`);
    if (process.argv[3] === 'exit') process.exit(3);
    setInterval(() => undefined, 60_000);
  },
  (err: unknown) => {
    console.error((err as Error).message);
    process.exit(1);
  },
);
