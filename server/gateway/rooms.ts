// Room names. A socket is in its user's room and in one room per current conversation.
export const userRoom = (userId: string): string => `u:${userId}`;
export const conversationRoom = (conversationId: string): string => `c:${conversationId}`;
/** The sockets watching a user's presence (`presence:subscribe`); joined locally, emitted to on every node. */
export const presenceRoom = (userId: string): string => `p:${userId}`;
