// The sidebar forms: start a direct chat, create a group or channel, join a public one by id.
// Input is checked with the protocol's schemas before anything is sent.
import { IdSchema, TitleSchema, UserIdSchema } from '../../protocol/index.js';
import { byId, show } from './dom.js';

export interface FormActions {
  createDirect(peerId: string): Promise<void>;
  createGroup(input: { type: 'group' | 'channel'; title: string; memberIds: string[]; public: boolean }): Promise<void>;
  join(conversationId: string): Promise<void>;
}

export function bindConversationForms(actions: FormActions, errors: { clear(): void; show(err: unknown): void }): void {
  const newForm = byId<HTMLFormElement>('new-form');
  const type = byId<HTMLSelectElement>('new-type');
  const name = byId<HTMLInputElement>('new-name');
  const members = byId<HTMLInputElement>('new-members');
  const isPublic = byId<HTMLInputElement>('new-public');
  const fitToType = () => {
    const direct = type.value === 'direct';
    name.placeholder = direct ? 'user name' : `${type.value} title`;
    show(members, !direct);
    show(byId('new-public-label'), !direct);
  };
  type.addEventListener('change', fitToType);
  fitToType();

  const run = (form: HTMLFormElement, work: () => Promise<void>) => {
    errors.clear();
    const button = form.querySelector<HTMLButtonElement>('button[type=submit]');
    if (button) button.disabled = true;
    work().then(
      () => {
        form.reset();
        fitToType();
      },
      (err: unknown) => errors.show(err),
    ).finally(() => button && (button.disabled = false));
  };

  newForm.addEventListener('submit', (e) => {
    e.preventDefault();
    run(newForm, async () => {
      if (type.value === 'direct') {
        const peerId = UserIdSchema.safeParse(name.value.trim());
        if (!peerId.success) throw new Error('A user name is 1–128 characters.');
        return actions.createDirect(peerId.data);
      }
      const title = TitleSchema.safeParse(name.value);
      if (!title.success) throw new Error('A title is 1–200 characters.');
      const memberIds = members.value.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = memberIds.find((id) => !UserIdSchema.safeParse(id).success);
      if (bad !== undefined) throw new Error(`"${bad}" is not a valid user name.`);
      return actions.createGroup({ type: type.value === 'channel' ? 'channel' : 'group', title: title.data, memberIds, public: isPublic.checked });
    });
  });

  const joinForm = byId<HTMLFormElement>('join-form');
  joinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    run(joinForm, async () => {
      const id = IdSchema.safeParse(byId<HTMLInputElement>('join-id').value.trim());
      if (!id.success) throw new Error('That is not a conversation id.');
      return actions.join(id.data);
    });
  });
}
