// PostGraphile 5 over Callbox's tables, for bench/graphql/side_by_side.py.
// DATABASE_URL and PORT come from the environment; the schema is `public`.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { jsonPgSmartTags } from "postgraphile/utils";
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";

// callbox_conversation.last_message_id has no foreign key (the ingest sets it); declare it
// so that a conversation's last message is one relation, as in Callbox's lastMessage.
const LastMessagePlugin = jsonPgSmartTags({
  version: 1,
  config: {
    class: {
      callbox_conversation: {
        tags: {
          foreignKey: "(last_message_id) references callbox_message (id)|@fieldName lastMessage",
        },
      },
    },
  },
});

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset],
  plugins: [LastMessagePlugin],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: Number(process.env.PG_POOL_MAX ?? "10") },
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT ?? "5433"),
    graphiql: false,
    watch: false,
  },
  grafast: { explain: false },
};

export default preset;
