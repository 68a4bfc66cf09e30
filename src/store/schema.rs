// Diesel's view of migrations/{sqlite,postgres}: same tables, same meaning on both backends.

diesel::table! {
    products (id) {
        id -> Integer,
        sku -> Text,
        brand -> Text,
        name -> Text,
        color -> Text,
        price_cents -> Integer,
        main_image_url -> Text,
        released -> Bool,
        release_at -> Nullable<Timestamp>,
        max_per_customer -> Nullable<Integer>,
        queue_enabled -> Bool,
        admit_per_minute -> Integer,
        released_at -> Nullable<Timestamp>,
        inserted_at -> Timestamp,
        updated_at -> Timestamp,
        visibility -> Text,
    }
}

diesel::table! {
    product_details (product_id) {
        product_id -> Integer,
        description -> Text,
        revision -> Integer,
    }
}

diesel::table! {
    items (id) {
        id -> Integer,
        product_id -> Integer,
        size -> Text,
        sku -> Text,
        inserted_at -> Timestamp,
        updated_at -> Timestamp,
        position -> Integer,
    }
}

diesel::table! {
    item_availabilities (id) {
        id -> Integer,
        item_id -> Integer,
        available_count -> Integer,
        version -> BigInt,
        inserted_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    orders (id) {
        id -> Integer,
        cart_id -> Text,
        total_cents -> Integer,
        inserted_at -> Timestamp,
        account_id -> Nullable<Integer>,
        node -> Nullable<Text>,
        state -> Text,
        email -> Nullable<Text>,
        ship_name -> Nullable<Text>,
        ship_line1 -> Nullable<Text>,
        ship_line2 -> Nullable<Text>,
        ship_city -> Nullable<Text>,
        ship_postal_code -> Nullable<Text>,
        ship_country -> Nullable<Text>,
        tracking -> Nullable<Text>,
        payment_ref -> Nullable<Text>,
    }
}

diesel::table! {
    order_items (id) {
        id -> Integer,
        order_id -> Integer,
        item_id -> Integer,
        price_cents -> Integer,
        inserted_at -> Timestamp,
    }
}

diesel::table! {
    accounts (id) {
        id -> Integer,
        email -> Text,
        password_hash -> Text,
        cart_id -> Text,
        cart_token -> Nullable<Text>,
        cart_saved_ms -> BigInt,
        inserted_at -> Timestamp,
        updated_at -> Timestamp,
        ship_name -> Nullable<Text>,
        ship_line1 -> Nullable<Text>,
        ship_line2 -> Nullable<Text>,
        ship_city -> Nullable<Text>,
        ship_postal_code -> Nullable<Text>,
        ship_country -> Nullable<Text>,
        email_key -> Text,
        verified_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    holds (id) {
        id -> Integer,
        item_id -> Integer,
        holder -> Text,
        account_id -> Nullable<Integer>,
        price_cents -> Integer,
        expires_at_ms -> BigInt,
        extended -> Bool,
        order_id -> Nullable<Integer>,
        inserted_at -> Timestamp,
    }
}

diesel::table! {
    ended_holds (holder, item_id) {
        holder -> Text,
        item_id -> Integer,
        price_cents -> Integer,
        ended_at_ms -> BigInt,
    }
}

diesel::table! {
    order_events (id) {
        id -> Integer,
        order_id -> Integer,
        state -> Text,
        actor -> Nullable<Text>,
        note -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    payments (id) {
        id -> Integer,
        order_id -> Integer,
        provider -> Text,
        #[sql_name = "ref"]
        reference -> Text,
        idempotency_key -> Text,
        amount_cents -> Integer,
        status -> Text,
        decline_code -> Nullable<Text>,
        refund_ref -> Nullable<Text>,
        inserted_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    test_gateway_charges (id) {
        id -> Integer,
        #[sql_name = "ref"]
        reference -> Text,
        idempotency_key -> Text,
        amount_cents -> Integer,
        currency -> Text,
        manual_capture -> Bool,
        status -> Text,
        decline_code -> Nullable<Text>,
        card_last4 -> Nullable<Text>,
        refunded_cents -> Integer,
        inserted_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    line_entries (id) {
        id -> Integer,
        product_id -> Integer,
        holder -> Text,
        early -> Bool,
        shuffle_key -> Nullable<Text>,
        joined_at -> Timestamp,
        admitted_at -> Nullable<Timestamp>,
        last_seen_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Integer,
        token_hash -> Text,
        kind -> Text,
        subject_id -> Integer,
        data -> Text,
        created_ms -> BigInt,
        seen_ms -> BigInt,
        ended_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    email_tokens (id) {
        id -> Integer,
        token_hash -> Text,
        email -> Text,
        email_key -> Text,
        password_hash -> Nullable<Text>,
        account_id -> Nullable<Integer>,
        created_ms -> BigInt,
        expires_ms -> BigInt,
        used_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Integer,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        created_ms -> BigInt,
        due_ms -> BigInt,
        attempts -> Integer,
        claimed_until_ms -> Nullable<BigInt>,
        sent_ms -> Nullable<BigInt>,
        failed_ms -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    product_images (id) {
        id -> Integer,
        product_id -> Integer,
        position -> Integer,
        width -> Integer,
        height -> Integer,
        inserted_at -> Timestamp,
    }
}

diesel::table! {
    image_variants (id) {
        id -> Integer,
        image_id -> Integer,
        width -> Integer,
        height -> Integer,
        content_type -> Text,
        hash -> Text,
        bytes -> Binary,
    }
}

diesel::table! {
    line_starts (product_id) {
        product_id -> Integer,
        started_at -> Timestamp,
    }
}

diesel::joinable!(product_details -> products (product_id));
diesel::joinable!(product_images -> products (product_id));
diesel::joinable!(image_variants -> product_images (image_id));
diesel::joinable!(line_entries -> products (product_id));
diesel::joinable!(line_starts -> products (product_id));
diesel::joinable!(holds -> items (item_id));
diesel::joinable!(ended_holds -> items (item_id));
diesel::joinable!(holds -> orders (order_id));
diesel::joinable!(order_events -> orders (order_id));
diesel::joinable!(payments -> orders (order_id));
diesel::joinable!(orders -> accounts (account_id));
diesel::joinable!(email_tokens -> accounts (account_id));
diesel::joinable!(items -> products (product_id));
diesel::joinable!(item_availabilities -> items (item_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(order_items -> items (item_id));

diesel::allow_tables_to_appear_in_same_query!(
    products,
    items,
    item_availabilities,
    orders,
    order_items,
    accounts,
    line_entries,
    line_starts,
    sessions,
    holds,
    ended_holds,
    order_events,
    payments,
    test_gateway_charges,
    email_tokens,
    mail_outbox,
    product_details,
    product_images,
    image_variants,
    draws,
    draw_entries,
    draw_entry_details
);

diesel::table! {
    draws (product_id) {
        product_id -> Integer,
        opens_at_ms -> BigInt,
        closes_at_ms -> BigInt,
        state -> Text,
        secret -> Nullable<Text>,
        claimed_by -> Nullable<Text>,
        claimed_until_ms -> Nullable<BigInt>,
        drawn_at_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    draw_entries (id) {
        id -> Integer,
        product_id -> Integer,
        item_id -> Integer,
        account_id -> Integer,
        holder -> Text,
        address_key -> Text,
        card_fingerprint -> Text,
        amount_cents -> Integer,
        payment_ref -> Nullable<Text>,
        hash -> Text,
        state -> Text,
        void_reason -> Nullable<Text>,
        place -> Nullable<Integer>,
        order_id -> Nullable<Integer>,
        created_ms -> BigInt,
        released_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    draw_entry_details (entry_id) {
        entry_id -> Integer,
        email -> Text,
        ship_name -> Text,
        ship_line1 -> Text,
        ship_line2 -> Text,
        ship_city -> Text,
        ship_postal_code -> Text,
        ship_country -> Text,
        card_last4 -> Nullable<Text>,
        provider -> Text,
    }
}

diesel::joinable!(draws -> products (product_id));
diesel::joinable!(draw_entries -> draws (product_id));
diesel::joinable!(draw_entries -> items (item_id));
diesel::joinable!(draw_entries -> accounts (account_id));
diesel::joinable!(draw_entry_details -> draw_entries (entry_id));
