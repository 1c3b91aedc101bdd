import type { ClientProxy } from '@nestjs/microservices';
import { TypedClient, type SessionApi } from '@chorus/contracts';

/**
 * The gateway's typed client of the session service (also the DI token the REST controllers inject). Live
 * connections learn of membership changes from the session stream (role_changed / participant_removed events
 * reach every gateway through the fan-out), not from this client.
 */
export class SessionRouter extends TypedClient<SessionApi> {
  constructor(client: ClientProxy, observe?: (pattern: string, seconds: number, ok: boolean) => void) {
    super(client, observe);
  }
}
