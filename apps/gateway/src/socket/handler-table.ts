import type { AccessTokenVerifier, IdentityTokens } from '@chorus/auth';
import type { LoggerService } from '@nestjs/common';
import { ChannelMessageHandlers } from './channel.handlers';
import type { HandlerTable } from './connection';
import { AgentMessageHandlers } from './agents.handlers';
import { FileMessageHandlers } from './files.handlers';
import { FileSyncMessageHandlers } from './file-sync.handlers';
import { LiveMessageHandlers } from './live.handlers';
import { reauthHandler } from './reauth.handler';
import { SessionMessageHandlers } from './session.handlers';
import { VoiceMessageHandlers } from './voice.handlers';
import { YjsMessageHandlers } from '../yjs/yjs.handlers';

/** Every client message type → its handler. Exhaustive: a new message type does not compile without one. */
export function handlerTable(tokens: IdentityTokens, access: AccessTokenVerifier, logger: LoggerService): HandlerTable {
  const session = new SessionMessageHandlers(tokens, logger);
  const live = new LiveMessageHandlers(logger);
  const agents = new AgentMessageHandlers(logger);
  const channels = new ChannelMessageHandlers(logger);
  const voice = new VoiceMessageHandlers();
  const yjs = new YjsMessageHandlers();
  const fileSync = new FileSyncMessageHandlers(logger);
  const files = new FileMessageHandlers(logger);
  return {
    join: (s, m, d) => session.join(s, m, d),
    leave: (s, m, d) => session.leave(s, m, d),
    chat_message: (s, m, d) => session.chat(s, m, d),
    chat_edit: (s, m, d) => session.chatEdit(s, m, d),
    chat_delete: (s, m, d) => session.chatDelete(s, m, d),
    ping: () => session.ping(),
    reauth: reauthHandler(access),
    presence_update: (s, m, d) => live.presenceUpdate(s, m, d),
    who: (s, m, d) => live.who(s, m, d),
    typing: (s, m, d) => live.typing(s, m, d),
    stop_typing: (s, m, d) => live.stopTyping(s, m, d),
    open_document: (s, m, d) => live.openDocument(s, m, d),
    submit_op: (s, m, d) => live.submitOp(s, m, d),
    fetch_ops: (s, m, d) => live.fetchOps(s, m, d),
    document_history: (s, m, d) => live.documentHistory(s, m, d),
    document_at: (s, m, d) => live.documentAt(s, m, d),
    lock_file: (s, m, d) => live.lockFile(s, m, d),
    unlock_file: (s, m, d) => live.unlockFile(s, m, d),
    close_document: (s, m) => files.closeDocument(s, m),
    resolve_conflict: (s, m, d) => files.resolveConflict(s, m, d),
    prompt_submit: (s, m, d) => agents.promptSubmit(s, m, d),
    prompt_cancel: (s, m, d) => agents.promptCancel(s, m, d),
    prompt_claim: (s, m, d) => agents.promptClaim(s, m, d),
    prompt_done: (s, m, d) => agents.promptDone(s, m, d),
    agent_status: (s, m, d) => agents.agentStatus(s, m, d),
    agent_output: (s, m, d) => agents.agentOutput(s, m, d),
    subscribe: (s, m, d) => channels.subscribe(s, m, d),
    unsubscribe: (s, m, d) => channels.unsubscribe(s, m, d),
    publish: (s, m, d) => channels.publish(s, m, d),
    voice_join: (s, m, d) => voice.join(s, m, d),
    voice_leave: (s, m, d) => voice.leave(s, m, d),
    voice_offer: (s, m, d) => voice.relay(s, m, d),
    voice_answer: (s, m, d) => voice.relay(s, m, d),
    voice_ice: (s, m, d) => voice.relay(s, m, d),
    voice_mute: (s, m, d) => voice.setMuted(s, m, d),
    voice_unmute: (s, m, d) => voice.setMuted(s, m, d),
    voice_speaking: (s, m, d) => voice.speaking(s, m, d),
    yjs_sync: (s, m, d) => yjs.sync(s, m, d),
    yjs_leave: (s, m, d) => yjs.leave(s, m, d),
    share_project: (s, m, d) => fileSync.share(s, m, d),
    unshare_project: (s, m, d) => fileSync.unshare(s, m, d),
    request_file_manifest: (s, m, d) => fileSync.request(s, m, d),
    request_files: (s, m, d) => fileSync.request(s, m, d),
    file_manifest: (s, m, d) => fileSync.manifest(s, m, d),
    files_chunk: (s, m, d) => fileSync.chunk(s, m, d),
    file_data: (s, m, d) => fileSync.data(s, m, d),
  };
}
