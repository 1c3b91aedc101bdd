import type { ClientProxy } from '@nestjs/microservices';
import { TypedClient, type MembershipChange, type SessionApi } from '@chorus/contracts';

/** Reacts to a membership change on the live connections of every gateway replica. */
export interface MembershipListener {
  onMembershipChange(change: MembershipChange): Promise<void>;
}

type MembershipPattern = 'session.leave' | 'participant.update_role' | 'participant.remove';

/**
 * The gateway's typed client of the session service. Calls that change someone's membership also tell the
 * live connections (a downgraded editor's next edit is refused; a removed participant is disconnected).
 */
export class SessionRouter extends TypedClient<SessionApi> {
  private readonly listeners: MembershipListener[] = [];

  constructor(client: ClientProxy, observe?: (pattern: string, seconds: number, ok: boolean) => void) {
    super(client, observe);
  }

  addMembershipListener(listener: MembershipListener): void {
    this.listeners.push(listener);
  }

  async membership<P extends MembershipPattern>(pattern: P, req: SessionApi[P]['req']): Promise<SessionApi[P]['res']> {
    const change = (await this.call(pattern, req)) as MembershipChange;
    await this.announce(change);
    return change as SessionApi[P]['res'];
  }

  async announce(change: MembershipChange | null): Promise<void> {
    if (change === null) return;
    await Promise.all(this.listeners.map((l) => l.onMembershipChange(change)));
  }
}
