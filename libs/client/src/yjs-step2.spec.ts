import * as Y from 'yjs';
import { addsNothing } from './yjs-step2';
import { mulberry32 } from '@chorus/testing';

// addsNothing against its definition, on random histories (seeded): a client and a server doc share a past, then
// both edit (inserts and deletes) or only one does; the client's answer to the server's step 1 "adds nothing"
// exactly when applying it to the server's state leaves that state (structs and delete set) as it was.

function edit(doc: Y.Doc, random: () => number, count: number, deletesOnly = false): void {
  const text = doc.getText('t');
  for (let i = 0; i < count; i++) {
    if (text.length > 0 && (deletesOnly || random() < 0.4)) {
      const at = Math.floor(random() * text.length);
      text.delete(at, 1 + Math.floor(random() * Math.min(3, text.length - at)));
    } else if (!deletesOnly) {
      text.insert(Math.floor(random() * (text.length + 1)), String.fromCharCode(97 + Math.floor(random() * 26)).repeat(1 + Math.floor(random() * 3)));
    }
  }
}

/** One sync as YjsProvider runs it: the server's step 2 and step 1 for the client's step 1, then the client's answer. */
function exchange(client: Y.Doc, server: Y.Doc): { answer: Uint8Array; serverStep2: Uint8Array; serverSv: Uint8Array } {
  const serverStep2 = Y.diffUpdate(Y.encodeStateAsUpdate(server), Y.encodeStateVector(client));
  const serverSv = Y.encodeStateVector(server);
  Y.applyUpdate(client, serverStep2);
  return { answer: Y.encodeStateAsUpdate(client, serverSv), serverStep2, serverSv };
}

function changes(server: Y.Doc, update: Uint8Array): boolean {
  const before = Y.snapshot(server);
  const copy = new Y.Doc({ gc: false });
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(server));
  Y.applyUpdate(copy, update);
  return !Y.equalSnapshots(before, Y.snapshot(copy));
}

describe('addsNothing (the step 2 a provider leaves unsent)', () => {
  it('is true for a client with nothing new on a document with deletions (whose answer is not empty)', () => {
    const server = new Y.Doc();
    server.getText('t').insert(0, 'Hello, brave new world.');
    server.getText('t').delete(5, 7);
    const { answer, serverStep2, serverSv } = exchange(new Y.Doc(), server);
    expect(answer.length).toBeGreaterThan(2); // the delete set: the reason this exists
    expect(addsNothing(answer, serverStep2, serverSv)).toBe(true);
  });

  it('is false for an own insert and for an own deletion the server lacks', () => {
    const server = new Y.Doc();
    server.getText('t').insert(0, 'abc');
    const client = new Y.Doc();
    Y.applyUpdate(client, Y.encodeStateAsUpdate(server));
    client.getText('t').delete(1, 1);
    const del = exchange(client, server);
    expect(addsNothing(del.answer, del.serverStep2, del.serverSv)).toBe(false);
    client.getText('t').insert(0, 'x');
    const ins = exchange(client, server);
    expect(addsNothing(ins.answer, ins.serverStep2, ins.serverSv)).toBe(false);
  });

  it('agrees with "applying it changes the server" on 400 random histories', () => {
    const random = mulberry32(17);
    let nothing = 0;
    for (let run = 0; run < 400; run++) {
      const server = new Y.Doc({ gc: random() < 0.5 });
      const client = new Y.Doc();
      edit(server, random, 1 + Math.floor(random() * 12));
      Y.applyUpdate(client, Y.encodeStateAsUpdate(server)); // a shared past
      const who = random();
      if (who < 0.4) edit(server, random, Math.floor(random() * 8));
      else if (who < 0.6) edit(client, random, 1 + Math.floor(random() * 4), true);
      else if (who < 0.8) edit(client, random, 1 + Math.floor(random() * 4));
      else {
        edit(server, random, 4);
        edit(client, random, 4);
      }
      const { answer, serverStep2, serverSv } = exchange(client, server);
      const expected = !changes(server, answer);
      expect({ run, adds: addsNothing(answer, serverStep2, serverSv) }).toEqual({ run, adds: expected });
      if (expected) nothing++;
    }
    // Both outcomes are well represented.
    expect(nothing).toBeGreaterThan(100);
    expect(nothing).toBeLessThan(300);
  });
});
