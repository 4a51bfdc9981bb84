// Versioned schema of the PostgreSQL adapter. Kept as TypeScript strings rather than .sql files
// so they ship inside dist/ (tsc copies no .sql) and load the same under tsx and node.
// Append new versions; never edit one that has shipped. Each version runs in the one transaction
// that holds the migration lock (migrate.ts), so a failed version leaves nothing behind.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

// Id columns use the "C" collation: ordering is by bytes, the same as MongoDB's, whatever
// locale the database was created with, and comparisons skip the locale machinery.
const V1_INITIAL = /* sql */ `
CREATE TABLE conversations (
  id               text COLLATE "C" PRIMARY KEY,
  type             text NOT NULL CHECK (type IN ('direct', 'group', 'channel')),
  title            text,
  created_by       text COLLATE "C" NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  public           boolean NOT NULL DEFAULT false,
  -- Highest seq handed out; bumped by every append in the append's own statement, so the row
  -- lock on it is what serialises seq assignment and membership changes per conversation.
  last_seq         bigint NOT NULL DEFAULT 0,
  last_activity_at timestamptz NOT NULL DEFAULT now(),
  -- JSON array of the two sorted user ids of a direct conversation (unambiguous for any ids);
  -- the unique constraint is what makes "one direct conversation per pair" hold under races.
  direct_key       text COLLATE "C" UNIQUE,
  CHECK ((type = 'direct') = (direct_key IS NOT NULL))
) WITH (fillfactor = 70); -- every append rewrites the row; free space keeps those updates HOT

-- One row per membership period; the open period has left_seq NULL.
CREATE TABLE memberships (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id text COLLATE "C" NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  user_id         text COLLATE "C" NOT NULL,
  role            text NOT NULL CHECK (role IN ('owner', 'admin', 'moderator', 'member')),
  joined_at       timestamptz NOT NULL DEFAULT now(),
  joined_seq      bigint NOT NULL,
  left_at         timestamptz,
  left_seq        bigint,
  delivered_seq   bigint NOT NULL,
  read_seq        bigint NOT NULL,
  CHECK (left_seq IS NULL OR left_seq >= joined_seq)
) WITH (fillfactor = 80); -- watermark updates touch no indexed column: HOT with free space

-- At most one open period per (conversation, user). Serves getMembership, setRole,
-- removeMember, advanceWatermarks, countMembers, the ON CONFLICT of addMembers, and listMembers
-- (keyset on user_id within the conversation).
CREATE UNIQUE INDEX memberships_open_key
  ON memberships (conversation_id, user_id) WHERE left_seq IS NULL;

-- The user's current conversations: listConversationIds and the first step of
-- listConversations (an index range of one user's open rows, ~1,000 entries for a heavy user).
CREATE INDEX memberships_user_open_idx
  ON memberships (user_id, conversation_id) WHERE left_seq IS NULL;

-- Every period of one user in one conversation, oldest first: listPeriods and the
-- last-visible-message lookup of listConversations.
CREATE INDEX memberships_periods_idx
  ON memberships (conversation_id, user_id, joined_seq);

-- A message's id is "<conversation_id>-<seq>" (rows.ts), so the primary key doubles as the id
-- index and the table carries no random-uuid index that every insert would scatter into.
CREATE TABLE messages (
  conversation_id text COLLATE "C" NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  seq             bigint NOT NULL,
  sender_id       text COLLATE "C" NOT NULL,
  client_msg_id   text COLLATE "C" NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('text', 'file', 'system')),
  text            text,
  attachment      jsonb,
  system          jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  -- History pages (keyset on seq, forwards and backwards, one range per membership period),
  -- getMessage, unread counts (seq > read_seq) and the last message of a conversation.
  CONSTRAINT messages_pkey PRIMARY KEY (conversation_id, seq),
  -- Idempotent sends: getMessageByClientId and the duplicate check of appends.
  CONSTRAINT messages_client_msg_key UNIQUE (conversation_id, sender_id, client_msg_id)
);

CREATE TABLE user_settings (
  user_id       text COLLATE "C" PRIMARY KEY,
  read_receipts boolean NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
`;

// Edits, deletions and reactions (PROTOCOL.md §9). The new columns are NULL on every existing
// row, so adding them rewrites nothing. `reactions` holds the counts clients see, rewritten by
// each reaction; `message_reactions` says who holds what, and its key is what makes a repeated
// reaction a no-op.
const V2_MESSAGE_CHANGES = /* sql */ `
ALTER TABLE messages
  ADD COLUMN updated_seq bigint,
  ADD COLUMN edited_at   timestamptz,
  ADD COLUMN deleted_at  timestamptz,
  ADD COLUMN reactions   jsonb;

-- conversation:sync's changes after a seq: only changed messages are in it.
CREATE INDEX messages_changes_idx ON messages (conversation_id, updated_seq) WHERE updated_seq IS NOT NULL;

CREATE TABLE message_reactions (
  conversation_id text COLLATE "C" NOT NULL,
  seq             bigint NOT NULL,
  user_id         text COLLATE "C" NOT NULL,
  emoji           text COLLATE "C" NOT NULL,
  PRIMARY KEY (conversation_id, seq, emoji, user_id),
  FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq) ON DELETE CASCADE
);
`;

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: 1, name: 'initial schema', sql: V1_INITIAL },
  { version: 2, name: 'message changes', sql: V2_MESSAGE_CHANGES },
]);
