"""Translators from shop platforms (Shopify, WooCommerce, the JSON API) to the
CRM's neutral order and customer updates (crm.services.shop_sync)."""
